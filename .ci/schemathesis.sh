#!/usr/bin/env bash
# Property-based tests of the JSON API (issue 16, docs/api.md) with
# schemathesis: starts `rebound serve` on a throwaway config with a token,
# lets schemathesis generate requests from /api/v1/openapi.json (valid and
# invalid ones) and fails on any server error (5xx), any answer that does not
# match its documented schema, or any status the document does not list.
#
# schemathesis is pinned and installed into a virtualenv under the cargo
# target directory, so it is reused across runs and never touches the
# system's Python.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
venv="$target/schemathesis-venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  echo "Installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --locked -p rebound-cli
rebound="$target/debug/rebound"

work="$(mktemp -d)"
serve_pid=""
cleanup() {
  if [ -n "$serve_pid" ]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A free loopback port for the API, and a closed one for the upstream: every
# call the mutations make fails at once (connection refused) and is recorded
# as failed, which is an answer like any other.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
port="$(free_port)"
closed="$(free_port)"
export REBOUND_API_TOKEN="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

cat > "$work/rebound.toml" <<EOF
[pipeline]
name = "schemathesis"
timezone = "America/New_York"
database = "sqlite://history.db"
raw_store = "file://raw"

[retry]
max_attempts = 1

[server]
listen = "127.0.0.1:$port"
token = "\${REBOUND_API_TOKEN}"

[sources.upstream]
base_url = "http://127.0.0.1:$closed"
timeout = "2s"

[scrapers.games]
source = "upstream"
path = "/games"
query = { date = "{date}" }
dataset = "upstream/games"

[scrapers.boxscore]
source = "upstream"
path = "/boxscore/{game_id}"

[workflows.daily]
scrapers = ["games"]
schedule = { kind = "window", start = "06:00", end = "18:00" }

[workflows.manual]
scrapers = ["games"]
EOF

"$rebound" --config "$work/rebound.toml" serve --workers 2 >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do
  if curl -fsS -H "Authorization: Bearer $REBOUND_API_TOKEN" \
    "http://127.0.0.1:$port/api/v1/openapi.json" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$serve_pid" 2>/dev/null; then
    echo "rebound serve exited:"; cat "$work/serve.log"; exit 1
  fi
  sleep 0.2
done

# The token works (else every mutation would answer a documented 401 and
# the run would prove little).
curl -fsS -X POST -H "Authorization: Bearer $REBOUND_API_TOKEN" \
  "http://127.0.0.1:$port/api/v1/evaluate" >/dev/null

# From the temporary directory: schemathesis keeps a cache where it runs.
status=0
(cd "$work" && "$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/v1/openapi.json" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance \
  --header "Authorization: Bearer $REBOUND_API_TOKEN" \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-50}" \
  --seed 1 \
  --request-timeout 30 \
  --report-dir "$work/report" \
  --warnings off) || status=$?

if [ "$status" -ne 0 ]; then
  echo "schemathesis failed; the last lines of rebound serve's log:"
  tail -n 40 "$work/serve.log"
  exit "$status"
fi
if grep -q "panicked" "$work/serve.log"; then
  echo "rebound serve panicked during the run:"; grep -A5 "panicked" "$work/serve.log"; exit 1
fi
echo "schemathesis: the API answered as documented"

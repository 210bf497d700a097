#!/usr/bin/env python3
"""Turn NBA.com's official injury report (a PDF) into JSON records.

Used as the `transform` of the reference pipeline's injury-report scrapers
(examples/nba/rebound.toml): Rebound passes the PDF on stdin and stores
what this prints on stdout. Python 3.11 standard library only, no PDF
package: it reads the one layout below and says so when it meets another.

Layout understood (the report as published since the 2023-24 season):
  * landscape pages, one content stream each (Flate-compressed or not);
  * text drawn with single-byte fonts (WinAnsi), each word or cell placed
    with its own Td / Tm and shown with Tj / TJ / ' / ";
  * a header row with the columns Game Date, Game Time, Matchup, Team,
    Player Name, Current Status and Reason on the first page; each cell
    belongs to the column whose header starts at or left of it; later pages
    have only the title ("Injury Report: ...") and continue the columns;
  * date, time and matchup written on a game's first row only, the team on
    its first row only (later rows inherit them);
  * a reason that wraps is drawn as extra lines with only a Reason cell,
    around the row's baseline: each is joined to the nearest row on the
    page, top line first;
  * a team that has not submitted its list has a row with "NOT YET
    SUBMITTED" as its reason and no player: listed in "not_submitted".

Run once per report (stdin to stdout), or with `--serve` as a
`keep_running` transform: one process answers report after report in
Rebound's frames ("document N" in, "output N" or "error N" out), so the
interpreter starts once, not per report.

Output:
  {"report": "Injury Report: 01/04/24 12:30 PM", "pages": 3,
   "records": [{"game_date": "01/04/2024", "game_time": "07:30 (ET)",
                "matchup": "MIL@SAS", "team": "San Antonio Spurs",
                "player": "Barlow, Dominick", "status": "Questionable",
                "reason": "G League - Two-Way"}, ...],
   "not_submitted": [{"game_date": ..., "game_time": ..., "matchup": ...,
                      "team": ...}]}
A report without player rows gives "records": [] (Rebound records that as
no_data).

Limits (each one fails with exit status 1 and a message on stderr rather
than printing partial or empty records that would look like "no injuries"):
  * not a PDF, or a content stream that cannot be decompressed;
  * a stream filter other than FlateDecode (e.g. LZW, or an encrypted file);
  * fonts with two-byte codes (Type0 / Identity-H): their text cannot be read
    without the font's CMap, so the header row is not found;
  * no page with the header row.
Pages are read in object-number order, which is page order in the files
NBA.com publishes (their generator writes pages in order). Player and team
names are kept as printed ("Last, First"); nothing is normalised.
"""

import json
import re
import sys
import zlib

HEADERS = ["Game Date", "Game Time", "Matchup", "Team", "Player Name", "Current Status", "Reason"]
FIELDS = ["game_date", "game_time", "matchup", "team", "player", "status", "reason"]
# A cell may start a little right of its column's header (the report
# indents cells by 1 point); a wrapped reason line may sit this far from
# its row's baseline (rows are 22 points apart).
COLUMN_SLACK = 5.0
LINE_TOLERANCE = 2.0
WRAP_DISTANCE = 15.0


class NotUnderstood(Exception):
    """The input is not a report this parser can read."""


# ------------------------------------------------------------------ PDF objects

OBJECT = re.compile(rb"(\d+)\s+(\d+)\s+obj\b(.*?)\bendobj", re.S)
REF = re.compile(rb"(\d+)\s+\d+\s+R")


def stream_of(body):
    """The decoded stream of an object body, or None if it has none."""
    start = re.search(rb"\bstream\r?\n", body)
    if not start:
        return None
    head = body[: start.start()]
    data = body[start.end():]
    end = data.rfind(b"endstream")
    if end < 0:
        raise NotUnderstood("a stream has no endstream: the PDF is truncated or malformed")
    length = re.search(rb"/Length\s+(\d+)(?!\s+\d+\s+R)", head)
    if length and int(length.group(1)) <= end:
        data = data[: int(length.group(1))]
    else:
        data = data[:end].rstrip(b"\r\n")
    filters = re.findall(rb"/(\w+Decode)\b", head)
    for name in filters:
        if name == b"FlateDecode":
            try:
                data = zlib.decompress(data)
            except zlib.error as e:
                raise NotUnderstood(f"a Flate stream cannot be decompressed: {e}") from None
        else:
            raise NotUnderstood(f"unsupported stream filter /{name.decode('latin-1')}")
    return data


def page_contents(pdf):
    """One bytes object of content per page, in page order."""
    objects = {}
    for match in OBJECT.finditer(pdf):
        objects[int(match.group(1))] = match.group(3)
    if not objects:
        raise NotUnderstood("no PDF objects found: the file is truncated or not a PDF")
    pages = []
    for number in sorted(objects):
        body = objects[number]
        if not re.search(rb"/Type\s*/Page(?![a-zA-Z])", body):
            continue
        contents = re.search(rb"/Contents\s*(\[[^\]]*\]|\d+\s+\d+\s+R)", body)
        if not contents:
            continue
        parts = []
        for ref in REF.finditer(contents.group(1)):
            target = objects.get(int(ref.group(1)))
            data = stream_of(target) if target is not None else None
            if data is not None:
                parts.append(data)
        pages.append(b"\n".join(parts))
    return pages


# ------------------------------------------------------------------ content streams

DELIMITERS = b"()<>[]{}/%"
WHITESPACE = b" \t\r\n\f\x00"


def literal_string(data, i):
    """The string starting after '(' at i; returns (bytes, next index)."""
    out = bytearray()
    depth = 1
    while i < len(data):
        c = data[i]
        if c == 0x5C:  # backslash
            i += 1
            if i >= len(data):
                break
            e = data[i]
            simple = {0x6E: 10, 0x72: 13, 0x74: 9, 0x62: 8, 0x66: 12}
            if e in simple:
                out.append(simple[e])
            elif 0x30 <= e <= 0x37:
                digits = data[i:i + 3]
                n = 0
                count = 0
                for d in digits:
                    if 0x30 <= d <= 0x37 and count < 3:
                        n = n * 8 + (d - 0x30)
                        count += 1
                    else:
                        break
                out.append(n & 0xFF)
                i += count - 1
            elif e in (0x0D, 0x0A):
                if e == 0x0D and i + 1 < len(data) and data[i + 1] == 0x0A:
                    i += 1
            else:
                out.append(e)
        elif c == 0x28:
            depth += 1
            out.append(c)
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return bytes(out), i + 1
            out.append(c)
        else:
            out.append(c)
        i += 1
    raise NotUnderstood("an unterminated string in a content stream")


def tokens(data):
    """Operands (numbers, strings, names, arrays) and operators, in order."""
    i = 0
    stack = [[]]
    while i < len(data):
        c = data[i]
        if c in WHITESPACE:
            i += 1
        elif c == 0x25:  # % comment
            while i < len(data) and data[i] not in b"\r\n":
                i += 1
        elif c == 0x28:
            text, i = literal_string(data, i + 1)
            stack[-1].append(("str", text))
        elif data.startswith(b"<<", i) or data.startswith(b">>", i):
            i += 2  # inline dictionaries carry no text
        elif c == 0x3C:
            end = data.find(b">", i)
            if end < 0:
                raise NotUnderstood("an unterminated hex string in a content stream")
            hexdigits = re.sub(rb"\s", b"", data[i + 1:end])
            if len(hexdigits) % 2:
                hexdigits += b"0"
            try:
                stack[-1].append(("str", bytes.fromhex(hexdigits.decode("ascii"))))
            except ValueError:
                raise NotUnderstood("a bad hex string in a content stream") from None
            i = end + 1
        elif c == 0x5B:
            stack.append([])
            i += 1
        elif c == 0x5D:
            if len(stack) > 1:
                array = stack.pop()
                stack[-1].append(("array", array))
            i += 1
        elif c == 0x2F:
            j = i + 1
            while j < len(data) and data[j] not in WHITESPACE and data[j] not in DELIMITERS:
                j += 1
            stack[-1].append(("name", data[i + 1:j]))
            i = j
        else:
            j = i
            while j < len(data) and data[j] not in WHITESPACE and data[j] not in DELIMITERS:
                j += 1
            if j == i:
                i += 1
                continue
            word = data[i:j]
            i = j
            try:
                stack[-1].append(("num", float(word)))
            except ValueError:
                if word == b"BI":  # inline image: skip to its end
                    end = data.find(b"EI", i)
                    i = len(data) if end < 0 else end + 2
                    continue
                operands = stack[0]
                stack = [[]]
                yield word.decode("latin-1"), operands


def multiply(m, n):
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2,
            e * a2 + f * c2 + e2, e * b2 + f * d2 + f2)


IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def decode(raw):
    return raw.decode("cp1252", errors="replace")


def page_words(content):
    """Every shown string of a page with its position: (x, y, text)."""
    ctm, saved = IDENTITY, []
    tm = tlm = IDENTITY
    leading = 0.0
    out = []

    def nums(operands, n):
        values = [v for kind, v in operands if kind == "num"]
        return values[-n:] if len(values) >= n else None

    def show(text):
        if text.strip():
            e, f = multiply(tm, ctm)[4:]
            out.append((e, f, text))

    def next_line():
        nonlocal tm, tlm
        tlm = multiply((1.0, 0.0, 0.0, 1.0, 0.0, -leading), tlm)
        tm = tlm

    for op, operands in tokens(content):
        if op == "q":
            saved.append(ctm)
        elif op == "Q":
            ctm = saved.pop() if saved else IDENTITY
        elif op == "cm" and nums(operands, 6):
            ctm = multiply(tuple(nums(operands, 6)), ctm)
        elif op == "BT":
            tm = tlm = IDENTITY
        elif op in ("Td", "TD") and nums(operands, 2):
            tx, ty = nums(operands, 2)
            if op == "TD":
                leading = -ty
            tlm = multiply((1.0, 0.0, 0.0, 1.0, tx, ty), tlm)
            tm = tlm
        elif op == "Tm" and nums(operands, 6):
            tm = tlm = tuple(nums(operands, 6))
        elif op == "TL" and nums(operands, 1):
            leading = nums(operands, 1)[0]
        elif op == "T*":
            next_line()
        elif op in ("Tj", "'", '"'):
            if op != "Tj":
                next_line()
            strings = [v for kind, v in operands if kind == "str"]
            if strings:
                show(decode(strings[-1]))
        elif op == "TJ":
            arrays = [v for kind, v in operands if kind == "array"]
            if arrays:
                text = ""
                for kind, value in arrays[-1]:
                    if kind == "str":
                        text += decode(value)
                    elif kind == "num" and value < -200:
                        text += " "  # a kerning gap wider than a fifth of an em
                show(text)
    return out


# ------------------------------------------------------------------ the report's table

def lines_of(words):
    """Words grouped into lines, top to bottom, each left to right."""
    lines = []
    for x, y, text in sorted(words, key=lambda w: (-w[1], w[0])):
        if lines and abs(lines[-1][0] - y) <= LINE_TOLERANCE:
            lines[-1][1].append((x, text))
        else:
            lines.append([y, [(x, text)]])
    return [(y, sorted(items)) for y, items in lines]


def header_columns(items):
    """Left edges of the seven columns if this line is the header row."""
    texts = [t for _, t in items]
    joined = " ".join(texts)
    if not all(h in joined for h in HEADERS):
        return None
    edges, k = [], 0
    for header in HEADERS:
        first = header.split()[0]
        while k < len(items) and items[k][1] != first:
            k += 1
        if k == len(items):
            return None
        edges.append(items[k][0])
        k += len(header.split())
    return edges


def cells(items, edges):
    out = [[] for _ in edges]
    for x, text in items:
        column = 0
        for n, edge in enumerate(edges):
            if x + COLUMN_SLACK >= edge:
                column = n
        out[column].append(text)
    return [join_words(parts) for parts in out]


def join_words(parts):
    """Words of a cell with spaces, except after a hyphenated word's break
    ("Two-" "Way" is "Two-Way"; a lone "-" keeps its spaces)."""
    text = ""
    for word in parts:
        if text and not (text.endswith("-") and not text.endswith(" -")):
            text += " "
        text += word
    return text.strip()


def parse(pdf):
    if not pdf.startswith(b"%PDF-"):
        raise NotUnderstood(f"not a PDF (starts with {pdf[:16]!r})")
    pages = page_contents(pdf)
    if not pages:
        raise NotUnderstood("no page with content found")
    title, records, not_submitted = None, [], []
    found_header = False
    current = dict.fromkeys(FIELDS[:4], "")
    edges = None
    for content in pages:
        lines = lines_of(page_words(content))
        header_y = None
        for y, items in lines:
            found = header_columns(items)
            if found:
                edges, header_y = found, y
                break
        title_y = next((y for y, items in lines if items and items[0][1] == "Injury"), None)
        if header_y is None:
            # Only the first page has the header row; later pages continue
            # its columns below their title.
            if edges is None:
                continue
            header_y = title_y if title_y is not None else float("inf")
        found_header = True
        if title is None and title_y is not None:
            title = next(" ".join(t for _, t in items) for y, items in lines if y == title_y)
        rows, fragments = [], []
        for y, items in lines:
            if y >= header_y:
                continue
            text = " ".join(t for _, t in items)
            if re.fullmatch(r"Page \d+ of \d+", text):
                continue
            row = dict(zip(FIELDS, cells(items, edges)))
            for field in FIELDS[:4]:
                if row[field]:
                    current[field] = row[field]
                    if field == "game_date":
                        current.update(game_time="", matchup="", team="")
                    elif field == "matchup":
                        current["team"] = ""
            if row["player"] or row["status"]:
                record = {**current, "player": row["player"], "status": row["status"]}
                rows.append((y, record, [(y, row["reason"])] if row["reason"] else []))
            elif row["reason"].upper() == "NOT YET SUBMITTED":
                not_submitted.append(dict(current))
            elif row["reason"]:
                fragments.append((y, row["reason"]))
        for y, reason in fragments:
            nearest = min(rows, key=lambda r: abs(r[0] - y), default=None)
            if nearest is None or abs(nearest[0] - y) > WRAP_DISTANCE:
                raise NotUnderstood(f"a Reason line ({reason!r}) belongs to no row")
            nearest[2].append((y, reason))
        for _, record, reasons in rows:
            record["reason"] = " ".join(r for _, r in sorted(reasons, key=lambda p: -p[0]))
            records.append(record)
    if not found_header:
        raise NotUnderstood(
            "no page has the injury report's header row (Game Date, Game Time, Matchup, "
            "Team, Player Name, Current Status, Reason): not a layout this parser reads "
            "(or its text uses two-byte fonts)"
        )
    return {"report": title, "pages": len(pages), "records": records,
            "not_submitted": not_submitted}


def render(result):
    """The output's bytes: compact JSON, UTF-8, one line."""
    return (json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def serve():
    """`--serve`: Rebound's `keep_running` frames (docs/documents.md).

    Reads "document N" and N bytes, answers "output N" and N bytes, or
    "error N" and a message for a report it does not understand, until
    stdin closes. Anything unexpected (a bug) ends the process with its
    traceback, as a one-off run would; Rebound starts a new one.
    """
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.readline()
        if not header:
            return 0
        kind, _, length = header.decode("ascii", "replace").strip().partition(" ")
        if kind != "document" or not length.isdigit():
            print(f"injury_report.py: expected 'document N', got {header[:40]!r}", file=sys.stderr)
            return 2
        pdf = stdin.read(int(length))
        try:
            kind, body = b"output", render(parse(pdf))
        except NotUnderstood as e:
            kind, body = b"error", f"injury_report.py: {e}".encode("utf-8")
        stdout.write(kind + b" %d\n" % len(body) + body)
        stdout.flush()


def main():
    if sys.argv[1:] == ["--serve"]:
        return serve()
    if sys.argv[1:]:
        print("usage: injury_report.py [--serve] < report.pdf > records.json", file=sys.stderr)
        return 2
    pdf = sys.stdin.buffer.read()
    try:
        result = parse(pdf)
    except NotUnderstood as e:
        print(f"injury_report.py: {e}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

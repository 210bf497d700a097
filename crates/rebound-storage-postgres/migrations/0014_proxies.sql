-- Proxies per source (issue 13), PostgreSQL dialect.
--
-- Append-only, like 0001 (0013 is another change's). `proxy`: the proxy a
-- request went through, as its 1-based place in the source's `proxies`
-- (never its URL: proxy URLs carry credentials); NULL for sources without
-- proxies and for every row written before this migration (a column
-- without a default: no table rewrite).
--
-- The partial index holds only attempts made through a proxy, so `rebound
-- health` and `rebound breakers` find a proxy's newest attempts (which
-- they replay through the proxy breaker) with one seek, however large the
-- rest of the history.

ALTER TABLE scraper_attempts ADD COLUMN proxy integer CHECK (proxy >= 1);

CREATE INDEX scraper_attempts_by_proxy
    ON scraper_attempts (proxy, finished_at)
    WHERE proxy IS NOT NULL;

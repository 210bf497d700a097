-- The JSON API's pages of calls (issue 16, GET /api/v1/calls): newest
-- first by start time (then id), filtered by scraper or by status. Keyset
-- pages seek in these indexes, so a page costs the same on a 10-million-
-- call history whatever the filter; without them, a filter on a rare
-- status or a scraper read the table from its newest row down. Unfiltered
-- and time-bounded pages use scraper_execution_log_by_start.
CREATE INDEX scraper_execution_log_by_scraper_start
    ON scraper_execution_log (scraper_name, started_at, id);

CREATE INDEX scraper_execution_log_by_status_start
    ON scraper_execution_log (status, started_at, id);

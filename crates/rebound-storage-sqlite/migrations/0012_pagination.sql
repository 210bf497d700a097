-- Pagination and record counts (issue 13), SQLite dialect.
--
-- Append-only, like 0001. A paginated scraper makes one call of several
-- requests; each request is still one `scraper_attempts` row (attempts are
-- numbered over the whole call, so the primary key is unchanged), and
-- `page` says which page it fetched. Rows written before this migration
-- were all single-page calls, hence the default.
--
-- `pages`: pages a paginated call fetched, the failing one included; NULL
-- for scrapers without `paginate`. `record_count`: records in the stored
-- payload (every page's), so "9 records" can be checked in SQL; NULL when
-- the scraper has no `records` pointer, there was no payload, or it was not
-- JSON (and for every row written before this migration).

ALTER TABLE scraper_attempts
    ADD COLUMN page INTEGER NOT NULL DEFAULT 1 CHECK (page >= 1);

ALTER TABLE scraper_execution_log ADD COLUMN pages INTEGER CHECK (pages >= 1);

ALTER TABLE scraper_execution_log ADD COLUMN record_count INTEGER CHECK (record_count >= 0);

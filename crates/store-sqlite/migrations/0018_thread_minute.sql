-- A Page's threads are listed by recency. Keyed by last_message_at, their index
-- took a write for every message: SQLite rewrites an index entry whenever an
-- UPDATE sets one of its columns, even to the value it had (a generated column
-- counts as set when its source is). On a load spread over many threads, that is
-- a page more to write per message (ANALYSIS.md).
--
-- The index now keys a Page's threads by the minute of their last message, as
-- PostgreSQL's does (its migration 0017). The minute is a plain column that the
-- triggers below keep equal to last_message_at / 60000, writing it only when it
-- changes: at most once a minute per thread. A listing sorts the threads within a
-- minute when it reads them, and its keyset cursor bounds the minute too.
ALTER TABLE threads ADD COLUMN active_minute INTEGER;
UPDATE threads SET active_minute = last_message_at / 60000;
DROP INDEX threads_by_page;
CREATE INDEX threads_by_page ON threads (page_id, active_minute DESC);

CREATE TRIGGER threads_minute_on_insert AFTER INSERT ON threads
BEGIN
    UPDATE threads SET active_minute = NEW.last_message_at / 60000 WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER threads_minute_on_update AFTER UPDATE OF last_message_at ON threads
    WHEN NEW.active_minute IS NOT NEW.last_message_at / 60000
BEGIN
    UPDATE threads SET active_minute = NEW.last_message_at / 60000 WHERE rowid = NEW.rowid;
END;

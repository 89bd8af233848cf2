-- A message moves its thread on in place. Every message sets the thread's
-- last_message_at, and PostgreSQL writes a new entry in every index of the table
-- for an update that changes an indexed column; with the column out of the
-- indexes the update is a heap-only one (HOT): no index is written at all.
--
-- A Page's threads are listed by recency: the index keeps them by the minute of
-- their last message (a column PostgreSQL computes, so it can never disagree),
-- which changes at most once a minute per thread, and a listing sorts the threads
-- within a minute when it reads them (its keyset cursor bounds the minute too).
ALTER TABLE threads ADD COLUMN active_minute BIGINT GENERATED ALWAYS AS (last_message_at / 60000) STORED;
DROP INDEX threads_by_page;
CREATE INDEX threads_by_page ON threads (page_id, active_minute DESC);

-- A person's threads are few (one per Page they write to): sorted when read.
DROP INDEX threads_by_person;
CREATE INDEX threads_by_person ON threads (person_id);

-- Room on each page for a row's next versions: a heap-only update needs it there.
ALTER TABLE threads SET (fillfactor = 70);

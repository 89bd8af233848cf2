-- A message moves its thread on with an UPDATE of last_message_at, and SQLite
-- rewrites the entry of every index that holds a column the UPDATE sets. A
-- person's threads are few (one per Page they write to) and are sorted when read,
-- so their index leaves last_message_at out: one index write fewer per message.
-- (PostgreSQL's migration of the same name also takes last_message_at out of the
-- Page's index; SQLite keeps it there, since it writes that entry either way.)
DROP INDEX threads_by_person;
CREATE INDEX threads_by_person ON threads (person_id);

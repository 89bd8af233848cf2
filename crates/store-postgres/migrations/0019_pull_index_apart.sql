-- A thread's pending events were looked up on the pull API's index. Both
-- `outbox_pending_by_thread` (app, Page, person, id) and `outbox_pending_by_app`
-- (app, id) serve "the pending events of this app, Page and person": the first
-- by seeking the thread, the second by walking every pending event of the app and
-- filtering. Planned while nothing was pending (a new database, or statistics
-- taken in a quiet moment), PostgreSQL rated them alike and took the second, and
-- a connection keeps a statement's generic plan for its life: each head lookup of
-- a settle, a claim and an append then read the app's whole backlog, so the
-- deeper the backlog the slower it drained (ANALYSIS.md, "A thread's head on the
-- pull API's index"). The pull API's index now holds a condition true of every
-- event, `id > 0`, that only the pull API's statements state: no other statement
-- can be planned on it.
DROP INDEX outbox_pending_by_app;
CREATE INDEX outbox_pending_by_app ON outbox (app_id, id) WHERE settled_at IS NULL AND id > 0;

-- The Page inbox's folders and what the Page's messaging insights count: when a
-- thread's first message and the Page's first answer came, and when the person last
-- reported it. Kept on the thread's row, so that an erasure takes them with it.

ALTER TABLE threads ADD COLUMN folder TEXT NOT NULL DEFAULT 'inbox';  -- 'inbox' | 'page_done' | 'spam'
ALTER TABLE threads ADD COLUMN first_message_at INTEGER;
ALTER TABLE threads ADD COLUMN page_answered_at INTEGER;              -- NULL: the Page's side never wrote
ALTER TABLE threads ADD COLUMN reported_at INTEGER;

UPDATE threads SET
    first_message_at = (SELECT MIN(m.created_at) FROM messages m WHERE m.page_id = threads.page_id AND m.person_id = threads.person_id),
    page_answered_at = (SELECT MIN(m.created_at) FROM messages m
        WHERE m.page_id = threads.page_id AND m.person_id = threads.person_id AND m.direction = 'out');

CREATE INDEX threads_by_page_start ON threads (page_id, first_message_at) WHERE first_message_at IS NOT NULL;
CREATE INDEX threads_by_page_blocked ON threads (page_id, blocked_at) WHERE blocked_at IS NOT NULL;
CREATE INDEX threads_by_page_reported ON threads (page_id, reported_at) WHERE reported_at IS NOT NULL;

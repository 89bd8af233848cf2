-- Policy enforcement: where the operator's warnings and blocks left each app (its
-- history is the app's audit trail), and whether a recurring-notification opt-in
-- asked Messenger to offer a new opt-in when its token nears its end.

ALTER TABLE apps ADD COLUMN policy_state TEXT NOT NULL DEFAULT 'clear';
ALTER TABLE optin_requests ADD COLUMN reoptin INTEGER NOT NULL DEFAULT 0;

-- The token inventory: a Page's accepted tokens in the order they were accepted.
CREATE INDEX optin_tokens_by_page ON optin_requests (page_id, tapped_at, mid) WHERE tapped_at IS NOT NULL;

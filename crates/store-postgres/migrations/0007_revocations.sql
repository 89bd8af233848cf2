-- Revocations that last: a Page token is derived from (Page, app, admin, epoch), and
-- each revocation of that triple's tokens moves its epoch on, so that restoring a
-- role or a grant never brings a revoked token back.
CREATE TABLE page_token_epochs (
    page_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    person_id BIGINT NOT NULL,
    epoch INTEGER NOT NULL,
    PRIMARY KEY (page_id, app_id, person_id)
);
CREATE INDEX tokens_by_app ON tokens (app_id, kind) WHERE NOT revoked;
CREATE INDEX tokens_by_page ON tokens (page_id, app_id, person_id) WHERE kind = 'page' AND NOT revoked;

-- The Handover Protocol: each installed app's receiver role on its Page, the Page's
-- routing rules for new threads, and who controls each thread.
ALTER TABLE page_subscriptions ADD COLUMN receiver_role TEXT;   -- 'primary_receiver' | 'secondary_receiver' | NULL
-- Apps installed before: one of each Page's apps becomes its primary receiver.
UPDATE page_subscriptions SET receiver_role = 'secondary_receiver';
UPDATE page_subscriptions s SET receiver_role = 'primary_receiver'
    WHERE s.app_id = (SELECT MIN(o.app_id) FROM page_subscriptions o WHERE o.page_id = s.page_id);
CREATE UNIQUE INDEX page_subscriptions_one_primary ON page_subscriptions (page_id) WHERE receiver_role = 'primary_receiver';

ALTER TABLE threads ADD COLUMN owner_app_id TEXT;    -- NULL: idle
ALTER TABLE threads ADD COLUMN owner_since BIGINT;
ALTER TABLE threads ADD COLUMN agent_id BIGINT;      -- who answers in the Page Inbox, while it controls the thread

CREATE TABLE routing_rules (
    page_id TEXT NOT NULL REFERENCES pages(id),
    ref TEXT NOT NULL,
    app_id TEXT NOT NULL,
    PRIMARY KEY (page_id, ref)
);

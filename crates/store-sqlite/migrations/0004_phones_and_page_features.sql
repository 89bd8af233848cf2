-- A person's phone number, verified by the person (customer matching), and the
-- features a Page applies for and the operator approves.
ALTER TABLE persons ADD COLUMN phone_number TEXT;
ALTER TABLE persons ADD COLUMN phone_verified_at INTEGER;
-- One person per verified number.
CREATE UNIQUE INDEX persons_by_phone ON persons (phone_number) WHERE phone_number IS NOT NULL;

CREATE TABLE page_features (
    page_id TEXT NOT NULL,
    feature TEXT NOT NULL,
    -- 'applied' (the terms accepted by a Page admin) or 'approved' (by the operator)
    status TEXT NOT NULL,
    applied_by INTEGER,
    applied_at INTEGER NOT NULL,
    approved_at INTEGER,
    PRIMARY KEY (page_id, feature)
);

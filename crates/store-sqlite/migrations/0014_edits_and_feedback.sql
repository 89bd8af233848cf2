-- Message edits and response feedback. How many times the person edited a message of
-- theirs (an edit is stored only from the count its author saw, so two edits racing
-- cannot both become edit N), and the person's rating of a Page message ("good" or
-- "bad"). Both are columns of the message: erasing a person's messages erases them.
ALTER TABLE messages ADD COLUMN edit_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN feedback TEXT;

-- When a token was rotated: a rotated token is never rotated again, so concurrent rotations
-- of one token leave exactly one successor.
ALTER TABLE tokens ADD COLUMN rotated_at TEXT;

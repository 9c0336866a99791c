-- In-app notifications are derived from submission events and comments; all a user
-- needs stored is when they last opened the list (what is newer is unread).
ALTER TABLE users ADD COLUMN notices_seen_at BIGINT NOT NULL DEFAULT 0;
-- The unread count runs on every page: let it range-scan by time.
CREATE INDEX submission_events_at ON submission_events(at);
CREATE INDEX submission_comments_at ON submission_comments(at);
CREATE INDEX submission_comments_parent ON submission_comments(parent_id);

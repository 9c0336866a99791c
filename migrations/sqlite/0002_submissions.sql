-- Department standard submissions: the document under review, its state history and
-- clause comments. `version` is bumped by every change (optimistic concurrency: an
-- edit or transition names the version it saw and fails if someone got there first).
CREATE TABLE submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    code TEXT NOT NULL,
    kind TEXT NOT NULL,
    base_code TEXT NOT NULL DEFAULT '',
    department TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    author_id BIGINT NOT NULL REFERENCES users(id),
    state TEXT NOT NULL,
    text TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    published_rev TEXT NOT NULL DEFAULT '',
    publish_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX submissions_state ON submissions(state);
CREATE INDEX submissions_author ON submissions(author_id);

CREATE TABLE submission_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id BIGINT NOT NULL REFERENCES submissions(id),
    at BIGINT NOT NULL,
    user_id BIGINT,
    username TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
);
CREATE INDEX submission_events_sub ON submission_events(submission_id);

CREATE TABLE submission_comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id BIGINT NOT NULL REFERENCES submissions(id),
    clause TEXT NOT NULL DEFAULT '',
    parent_id BIGINT,
    user_id BIGINT NOT NULL,
    username TEXT NOT NULL,
    at BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX submission_comments_sub ON submission_comments(submission_id);

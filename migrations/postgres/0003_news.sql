-- Standards news and announcements, managed by reviewers; `department` empty means
-- the whole company.
CREATE TABLE news (
    id BIGSERIAL PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    department TEXT NOT NULL DEFAULT '',
    author_id BIGINT NOT NULL REFERENCES users(id),
    at BIGINT NOT NULL
);
CREATE INDEX news_at ON news(at);

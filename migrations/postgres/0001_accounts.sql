-- Accounts, sessions, API tokens, the activity log and login attempts.
-- Same tables and column types as migrations/sqlite (instants as Unix seconds, flags
-- as 0/1) so one set of queries serves both databases through sqlx's Any driver.
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    department TEXT NOT NULL DEFAULT '',
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE activity_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    user_id BIGINT,
    username TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT ''
);

-- The log is append-only: the database refuses to change or delete an entry.
CREATE FUNCTION activity_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'activity_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER activity_log_no_change BEFORE UPDATE OR DELETE ON activity_log
    FOR EACH ROW EXECUTE FUNCTION activity_log_append_only();

CREATE TABLE login_attempts (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    username TEXT NOT NULL,
    ip TEXT NOT NULL,
    ok BIGINT NOT NULL
);
CREATE INDEX login_attempts_ip ON login_attempts(ip, at);
CREATE INDEX login_attempts_user ON login_attempts(username, at);

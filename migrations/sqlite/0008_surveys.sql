-- Satisfaction surveys. A definition is stored per version: editing a survey that
-- has responses adds a version, so every response keeps the questions it answered.
CREATE TABLE surveys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The definition's `id`; versions of one survey share it.
    key TEXT NOT NULL,
    version BIGINT NOT NULL,
    title TEXT NOT NULL,
    -- The YAML definition (see survey::Survey).
    definition TEXT NOT NULL,
    -- A return-visit survey drawn for an audit (回访).
    audit_id BIGINT REFERENCES audits(id),
    -- Improvement suggestions entered by staff for the report, one per line.
    suggestions TEXT NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    UNIQUE (key, version)
);

-- Links to the public form. A single link takes one response; an open link (a
-- poster's QR code) takes one response per visit, each visit carrying a signed nonce.
CREATE TABLE survey_links (
    token TEXT PRIMARY KEY,
    survey_key TEXT NOT NULL,
    open BIGINT NOT NULL DEFAULT 0,
    label TEXT NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX survey_links_key ON survey_links(survey_key);

-- One committed 问卷星 import (all rows or none); a file is imported once.
CREATE TABLE survey_imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    survey_id BIGINT NOT NULL REFERENCES surveys(id),
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    layout TEXT NOT NULL,
    rows BIGINT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    UNIQUE (survey_id, sha256)
);

-- Responses are never deleted; validity is computed, not stored.
CREATE TABLE survey_responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    survey_id BIGINT NOT NULL REFERENCES surveys(id),
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    submitted_at BIGINT,
    duration_s BIGINT,
    -- IP address (online) or masked phone number (phone), for the duplicate rule.
    contact TEXT,
    -- JSON: question id → answer.
    answers TEXT NOT NULL,
    interviewer TEXT NOT NULL DEFAULT '',
    order_id TEXT NOT NULL DEFAULT '',
    -- The link token (single links) or the visit nonce (open links): one response each.
    nonce TEXT UNIQUE,
    link_token TEXT,
    import_id BIGINT REFERENCES survey_imports(id),
    entered_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX survey_responses_survey ON survey_responses(survey_id, id);
CREATE INDEX survey_responses_contact ON survey_responses(contact, created_at);

-- The phone-interview list of a return-visit survey.
CREATE TABLE survey_samples (
    survey_id BIGINT NOT NULL REFERENCES surveys(id),
    seq BIGINT NOT NULL,
    order_id TEXT NOT NULL,
    outlet TEXT NOT NULL,
    service TEXT NOT NULL,
    customer TEXT NOT NULL,
    phone TEXT NOT NULL,
    interviewer TEXT NOT NULL,
    response_id BIGINT REFERENCES survey_responses(id),
    PRIMARY KEY (survey_id, seq)
);

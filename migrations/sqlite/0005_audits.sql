-- Audit runs: scope, who ran it, the data snapshot, every automated check's result,
-- a verdict per clause, the manual checklist (per item and outlet), findings with
-- their corrective action, and evidence files (stored content-addressed on disk;
-- this table holds their SHA-256, name, type and size). A closed audit is locked:
-- every write is conditional on state = 'open'; corrections are a new revision.
CREATE TABLE audits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    standards TEXT NOT NULL,
    period_from TEXT NOT NULL,
    period_to TEXT NOT NULL,
    outlets TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'open',
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    closed_by BIGINT,
    closed_at BIGINT,
    revision BIGINT NOT NULL DEFAULT 1,
    revises BIGINT REFERENCES audits(id),
    revision_reason TEXT NOT NULL DEFAULT '',
    snapshot TEXT NOT NULL DEFAULT '',
    ran_at BIGINT
);

CREATE TABLE audit_results (
    audit_id BIGINT NOT NULL REFERENCES audits(id),
    check_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (audit_id, check_id)
);

CREATE TABLE audit_clauses (
    audit_id BIGINT NOT NULL REFERENCES audits(id),
    clause TEXT NOT NULL,
    verdict TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT '',
    justification TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'auto',
    updated_by BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (audit_id, clause)
);

CREATE TABLE audit_items (
    audit_id BIGINT NOT NULL REFERENCES audits(id),
    item_id TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    verdict TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    updated_by BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (audit_id, item_id, target)
);

CREATE TABLE findings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    audit_id BIGINT NOT NULL REFERENCES audits(id),
    clause TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    observed TEXT NOT NULL DEFAULT '',
    target TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    due TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'open',
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX findings_audit ON findings(audit_id);

CREATE TABLE evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    audit_id BIGINT NOT NULL REFERENCES audits(id),
    finding_id BIGINT REFERENCES findings(id),
    item_id TEXT NOT NULL DEFAULT '',
    target TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    mime TEXT NOT NULL,
    size BIGINT NOT NULL,
    uploaded_by BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX evidence_audit ON evidence(audit_id);

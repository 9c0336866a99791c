-- Live monitoring, second stage: online evaluation and alerts.

-- An event is processed once: the monitor marks it done in the transaction that
-- stores what it changed. (Reading by `seq > position` would skip an event whose
-- transaction took its sequence number earlier but committed later.)
ALTER TABLE events ADD COLUMN done SMALLINT NOT NULL DEFAULT 0;
CREATE INDEX events_todo ON events (seq) WHERE done = 0;
-- Today's figures on the 驾驶舱 count by arrival.
CREATE INDEX events_received ON events (received_at);

-- Cases the monitor has seen: events processed (exactly once: the count moves in
-- the same transaction as `events.done`), time span, where the case happens, and
-- when it was closed (judged as final).
CREATE TABLE live_cases (
    case_id TEXT PRIMARY KEY,
    events BIGINT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    outlet TEXT,
    town TEXT,
    closed_at BIGINT
);
CREATE INDEX live_cases_open ON live_cases (closed_at);

-- The last recorded state of every warned or violated obligation of a case
-- (`okey` = rule@event), so a restart raises nothing twice and notices fulfilments,
-- and a late event reopening a closed case can retract what it disproves.
CREATE TABLE live_flags (
    case_id TEXT NOT NULL,
    okey TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (case_id, okey)
);

-- Alerts: one per (kind, source, subject, key), ever; raising is INSERT … ON
-- CONFLICT DO NOTHING, so no path can raise one twice.
CREATE TABLE alerts (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    subject TEXT NOT NULL,
    okey TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    title TEXT NOT NULL,
    clauses TEXT NOT NULL,
    severity TEXT NOT NULL,
    detail TEXT NOT NULL,
    outlet TEXT,
    town TEXT,
    at_us BIGINT,
    due_us BIGINT,
    state TEXT NOT NULL,
    assignee TEXT,
    raised_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    resolution TEXT,
    UNIQUE (kind, source, subject, okey)
);
CREATE INDEX alerts_state ON alerts (state, raised_at);

-- Who did what to an alert (acknowledge, assign, resolve; the monitor's own
-- resolutions are by `系统`).
CREATE TABLE alert_actions (
    id BIGSERIAL PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES alerts (id),
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX alert_actions_alert ON alert_actions (alert_id);

-- Webhook deliveries, written in the transaction that raised the alert and sent
-- afterwards with retries (at least once; `id` is the delivery id receivers dedupe by).
CREATE TABLE webhook_outbox (
    id BIGSERIAL PRIMARY KEY,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    delivered_at BIGINT,
    failed_at BIGINT,
    last_error TEXT
);
CREATE INDEX webhook_due ON webhook_outbox (next_at) WHERE delivered_at IS NULL AND failed_at IS NULL;

-- What each data source of an audit run read: its read report (rows read, skipped
-- by reason, time span, values trimmed, …) as JSON, so the audit page and the
-- report show what the verdicts rest on. And the share of unreadable rows the audit
-- tolerates before it withholds its verdicts (per million; 1000 = 0.1 %).
ALTER TABLE audits ADD COLUMN sources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE audits ADD COLUMN max_skipped_ppm BIGINT NOT NULL DEFAULT 1000;

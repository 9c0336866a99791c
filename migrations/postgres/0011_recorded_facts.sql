-- Recorded facts never flip.
-- `version` on a checklist result and on a clause verdict is bumped by every change
-- (optimistic concurrency, as submissions do): a save names the version its page
-- showed, and a save that would change a row someone else changed since is refused.
ALTER TABLE audit_items ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_clauses ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
-- 1 while the account still has a one-time password: the first start's generated
-- admin password. Every page sends such a user to change it first.
ALTER TABLE users ADD COLUMN must_change_password BIGINT NOT NULL DEFAULT 0;

-- Pilot-project acceptance: projects and expert reviews.
CREATE TABLE pilot_projects (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT '',
    field TEXT NOT NULL DEFAULT '',
    started TEXT NOT NULL DEFAULT '',
    planned_end TEXT NOT NULL DEFAULT '',
    accepted TEXT NOT NULL DEFAULT '',
    undertaker TEXT NOT NULL DEFAULT '',
    supervisor TEXT NOT NULL DEFAULT '',
    -- One member per line: 姓名 职务 分工.
    team TEXT NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);

-- A review: the scoring table it is scored against is copied in (YAML), so a later
-- change to the shipped table does not change a review in progress.
CREATE TABLE acceptance_reviews (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES pilot_projects(id),
    title TEXT NOT NULL,
    scoring_table TEXT NOT NULL,
    review_date TEXT NOT NULL DEFAULT '',
    -- 验收意见, written by the group leader once every expert has submitted.
    opinion TEXT NOT NULL DEFAULT '',
    opinion_at BIGINT,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE review_experts (
    review_id BIGINT NOT NULL REFERENCES acceptance_reviews(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    leader BIGINT NOT NULL DEFAULT 0,
    -- Set once, when the expert submits; scores are locked from then on.
    submitted_at BIGINT,
    PRIMARY KEY (review_id, user_id)
);

-- Scores in half points (score × 2), so 0.5 steps are exact on both databases.
CREATE TABLE review_scores (
    review_id BIGINT NOT NULL REFERENCES acceptance_reviews(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    item_id TEXT NOT NULL,
    half_points BIGINT,
    comment TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (review_id, user_id, item_id)
);

-- The text of award application forms (acceptance/award-*.yaml), per project and
-- section.
CREATE TABLE award_texts (
    project_id BIGINT NOT NULL REFERENCES pilot_projects(id),
    form_id TEXT NOT NULL,
    section_id TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_by BIGINT REFERENCES users(id),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, form_id, section_id)
);

-- A project's indicators: baseline, target and actual with a unit. `source` is
-- `manual` (actual entered, with evidence) or `live:<metric>` (computed from
-- Biaozhun's own data when shown; see acceptance::indicators).
CREATE TABLE project_indicators (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES pilot_projects(id),
    name TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    direction TEXT NOT NULL DEFAULT 'up',
    baseline TEXT NOT NULL DEFAULT '',
    target TEXT NOT NULL DEFAULT '',
    actual TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'manual',
    evidence_sha TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

-- Evidence files per application category (content-addressed in the evidence store).
CREATE TABLE project_evidence (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES pilot_projects(id),
    category TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    mime TEXT NOT NULL,
    size BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    uploaded_by BIGINT REFERENCES users(id),
    uploaded_at BIGINT NOT NULL,
    UNIQUE (project_id, category, sha256)
);

-- Categories marked complete.
CREATE TABLE project_evidence_done (
    project_id BIGINT NOT NULL REFERENCES pilot_projects(id),
    category TEXT NOT NULL,
    done_by BIGINT REFERENCES users(id),
    done_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, category)
);

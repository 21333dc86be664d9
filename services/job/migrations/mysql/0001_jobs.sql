-- Jobs. Every change bumps `version` and records a JobChanged event carrying the job's whole
-- state through the outbox.
CREATE TABLE jobs (
    id               CHAR(36)      NOT NULL PRIMARY KEY,
    company_id       CHAR(36)      NOT NULL,
    version          BIGINT        NOT NULL DEFAULT 1,
    deleted          BOOLEAN       NOT NULL DEFAULT FALSE,
    -- 1 draft, 2 published, 3 closed (talentmesh.job.v1.JobState).
    state            TINYINT       NOT NULL DEFAULT 1,
    title            VARCHAR(100)  NOT NULL,
    description      TEXT          NOT NULL,
    -- JSON arrays of skill names.
    required_skills  TEXT          NOT NULL,
    preferred_skills TEXT          NOT NULL,
    salary_min       INT           NOT NULL DEFAULT 0,
    salary_max       INT           NOT NULL DEFAULT 0,
    city_code        CHAR(6)       NOT NULL DEFAULT '',
    office_id        CHAR(36)      NOT NULL DEFAULT '',
    experience_years INT           NOT NULL DEFAULT 0,
    education        TINYINT       NOT NULL DEFAULT 0,
    employment_type  TINYINT       NOT NULL DEFAULT 0,
    recruit_type     TINYINT       NOT NULL DEFAULT 0,
    graduation_year  INT           NOT NULL DEFAULT 0,
    headcount        INT           NOT NULL DEFAULT 1,
    creator          CHAR(36)      NOT NULL,
    created_at       DATETIME(6)   NOT NULL,
    updated_at       DATETIME(6)   NOT NULL,
    published_at     DATETIME(6)   NULL,
    KEY ix_jobs_company (company_id, created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

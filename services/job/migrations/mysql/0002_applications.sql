-- Applications of candidates to jobs. `active` is 1 while the application is open and NULL once
-- it has ended (hired, rejected, withdrawn): the unique key then allows one open application per
-- candidate and job, and any number of ended ones.
CREATE TABLE applications (
    id             CHAR(36)      NOT NULL PRIMARY KEY,
    job_id         CHAR(36)      NOT NULL,
    company_id     CHAR(36)      NOT NULL,
    candidate      CHAR(36)      NOT NULL,
    resume_id      CHAR(36)      NOT NULL,
    resume_version BIGINT        NOT NULL,
    -- talentmesh.job.v1.Stage.
    stage          TINYINT       NOT NULL,
    reject_reason  VARCHAR(1000) NOT NULL DEFAULT '',
    active         TINYINT       NULL,
    version        BIGINT        NOT NULL DEFAULT 1,
    created_at     DATETIME(6)   NOT NULL,
    updated_at     DATETIME(6)   NOT NULL,
    UNIQUE KEY uq_applications_open (job_id, candidate, active),
    KEY ix_applications_job (job_id, stage),
    KEY ix_applications_candidate (candidate, created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Every move: who, when, from and to. Append-only.
CREATE TABLE application_moves (
    id             BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    application_id CHAR(36)      NOT NULL,
    from_stage     TINYINT       NOT NULL,
    to_stage       TINYINT       NOT NULL,
    actor          CHAR(36)      NOT NULL,
    reason         VARCHAR(1000) NOT NULL DEFAULT '',
    created_at     DATETIME(6)   NOT NULL,
    KEY ix_application_moves (application_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE interviews (
    id             BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
    application_id CHAR(36)      NOT NULL,
    at             DATETIME(6)   NOT NULL,
    place          VARCHAR(500)  NOT NULL,
    -- JSON array of user ids.
    interviewers   TEXT          NOT NULL,
    created_at     DATETIME(6)   NOT NULL,
    KEY ix_interviews (application_id, at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

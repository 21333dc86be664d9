-- What matching keeps of the jobs and resumes it reads from the job and resume services' events:
-- one row per job or resume at its newest version (a tombstone once deleted), holding the
-- document that is embedded and filtered on (talentmesh.matching.v1.MatchDocument) and the
-- job or resume itself (its protobuf, with the candidate's name and contact details removed).
-- The source of the embeddings projection and the truth the checker compares it with.
CREATE TABLE documents (
    id         VARCHAR(200) NOT NULL PRIMARY KEY,
    -- 'job' or 'resume'.
    kind       VARCHAR(8)   NOT NULL,
    version    BIGINT       NOT NULL,
    deleted    BOOLEAN      NOT NULL DEFAULT FALSE,
    document   LONGBLOB     NOT NULL,
    source     LONGBLOB     NOT NULL,
    -- "companies/{company}" of a job; "users/{user}" owning a resume.
    company    VARCHAR(100) NOT NULL DEFAULT '',
    owner      VARCHAR(100) NOT NULL DEFAULT '',
    updated_at DATETIME(6)  NOT NULL,
    KEY ix_documents_company (kind, company),
    KEY ix_documents_owner (owner)
) ENGINE = InnoDB;

-- Every version of a resume (without name and contact details), so a company ranks an applicant
-- at the version applied with when the resume is not open to it. Gone when the resume is.
CREATE TABLE resume_versions (
    resume  VARCHAR(100) NOT NULL,
    version BIGINT       NOT NULL,
    source  LONGBLOB     NOT NULL,
    PRIMARY KEY (resume, version)
) ENGINE = InnoDB;

-- Companies from the company service's events: display names and offices (for distances).
CREATE TABLE companies (
    id      VARCHAR(100) NOT NULL PRIMARY KEY,
    version BIGINT       NOT NULL,
    deleted BOOLEAN      NOT NULL DEFAULT FALSE,
    -- talentmesh.company.v1.CompanyState.
    state   LONGBLOB     NOT NULL
) ENGINE = InnoDB;

-- Applications from the job service's events: who may be ranked for a company (applicants) and
-- the outcomes the weights are tuned on.
CREATE TABLE applications (
    id             VARCHAR(255) NOT NULL PRIMARY KEY,
    job            VARCHAR(200) NOT NULL,
    company        VARCHAR(100) NOT NULL,
    resume         VARCHAR(100) NOT NULL,
    resume_version BIGINT       NOT NULL,
    -- talentmesh.job.v1.Stage.
    stage          TINYINT      NOT NULL,
    reject_reason  VARCHAR(500) NOT NULL DEFAULT '',
    version        BIGINT       NOT NULL,
    updated_at     DATETIME(6)  NOT NULL,
    KEY ix_applications_job (job),
    KEY ix_applications_company (company, resume)
) ENGINE = InnoDB;

-- The component weights in use: the newest row wins; none means the defaults.
CREATE TABLE weights (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    weights    TEXT         NOT NULL,
    origin     VARCHAR(20)  NOT NULL,
    samples    BIGINT       NOT NULL,
    created_at DATETIME(6)  NOT NULL
) ENGINE = InnoDB;

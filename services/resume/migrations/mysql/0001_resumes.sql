-- Resumes. The row holds what every read needs to decide access; the content of each save is a
-- row of resume_versions (the encoded talentmesh.resume.v1.Resume, analysis included), never
-- changed afterwards, so any version can be listed or restored.
CREATE TABLE resumes (
    id          CHAR(36)    NOT NULL PRIMARY KEY,
    owner       CHAR(36)    NOT NULL,
    version     BIGINT      NOT NULL DEFAULT 1,
    deleted     BOOLEAN     NOT NULL DEFAULT FALSE,
    -- talentmesh.resume.v1.Visibility.
    visibility  TINYINT     NOT NULL DEFAULT 1,
    -- JSON array of company ids.
    shared_with TEXT        NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    updated_at  DATETIME(6) NOT NULL,
    KEY ix_resumes_owner (owner, created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE resume_versions (
    resume_id  CHAR(36)    NOT NULL,
    version    BIGINT      NOT NULL,
    content    MEDIUMBLOB  NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (resume_id, version)
) ENGINE = InnoDB;

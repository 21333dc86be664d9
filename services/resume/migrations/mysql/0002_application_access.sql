-- What applications opened to companies, from the job service's ApplicationChanged events: the
-- company sees the applied version of the resume, and its contact details once the application
-- is past screening. Newer event versions win; older ones arriving late change nothing.
CREATE TABLE application_access (
    application_id CHAR(36) NOT NULL PRIMARY KEY,
    company_id     CHAR(36) NOT NULL,
    resume_id      CHAR(36) NOT NULL,
    resume_version BIGINT   NOT NULL,
    -- talentmesh.job.v1.Stage.
    stage          TINYINT  NOT NULL,
    version        BIGINT   NOT NULL,
    KEY ix_application_access (resume_id, company_id)
) ENGINE = InnoDB;

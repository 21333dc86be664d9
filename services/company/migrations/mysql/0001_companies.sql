-- Companies. Every change bumps `version` and records a CompanyChanged event carrying the
-- company's whole state (profile, offices, declared relations) through the outbox.
CREATE TABLE companies (
    id                   CHAR(36)      NOT NULL PRIMARY KEY,
    version              BIGINT        NOT NULL DEFAULT 1,
    deleted              BOOLEAN       NOT NULL DEFAULT FALSE,
    display_name         VARCHAR(200)  NOT NULL,
    description          TEXT          NOT NULL,
    industry             VARCHAR(64)   NOT NULL DEFAULT '',
    city_code            CHAR(6)       NOT NULL DEFAULT '',
    website              VARCHAR(2048) NOT NULL DEFAULT '',
    size                 TINYINT       NOT NULL DEFAULT 0,
    creator              CHAR(36)      NOT NULL,
    verification_state   TINYINT       NOT NULL DEFAULT 1,
    uscc                 CHAR(18)      NULL,
    legal_name           VARCHAR(200)  NOT NULL DEFAULT '',
    legal_representative VARCHAR(100)  NOT NULL DEFAULT '',
    licence_document     VARCHAR(1024) NOT NULL DEFAULT '',
    reject_reason        VARCHAR(1000) NOT NULL DEFAULT '',
    submitted_at         DATETIME(6)   NULL,
    reviewed_at          DATETIME(6)   NULL,
    reviewer             CHAR(36)      NULL,
    -- The USCC of a verified company, NULL otherwise: unique, so one code verifies one company.
    verified_uscc        CHAR(18)      NULL,
    -- Bumped by every membership change; part of every cached permission decision's key, so a
    -- change makes every older decision unreachable at once.
    permission_version   BIGINT        NOT NULL DEFAULT 1,
    created_at           DATETIME(6)   NOT NULL,
    updated_at           DATETIME(6)   NOT NULL,
    UNIQUE KEY uq_companies_verified_uscc (verified_uscc)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE company_members (
    company_id CHAR(36)     NOT NULL,
    user_id    CHAR(36)     NOT NULL,
    email      VARCHAR(254) NOT NULL DEFAULT '',
    role       VARCHAR(16)  NOT NULL,
    joined_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (company_id, user_id),
    KEY ix_company_members_user (user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE company_invitations (
    id          CHAR(36)     NOT NULL PRIMARY KEY,
    company_id  CHAR(36)     NOT NULL,
    email       VARCHAR(254) NOT NULL,
    role        VARCHAR(16)  NOT NULL,
    inviter     CHAR(36)     NOT NULL,
    accepted_by CHAR(36)     NULL,
    created_at  DATETIME(6)  NOT NULL,
    expires_at  DATETIME(6)  NOT NULL,
    accepted_at DATETIME(6)  NULL,
    KEY ix_company_invitations_company (company_id, created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Offices and declared relations are part of the company's state: changing one bumps the
-- company's version in the same transaction.
CREATE TABLE company_offices (
    id           CHAR(36)     NOT NULL PRIMARY KEY,
    company_id   CHAR(36)     NOT NULL,
    label        VARCHAR(100) NOT NULL DEFAULT '',
    address      VARCHAR(500) NOT NULL,
    city_code    CHAR(6)      NOT NULL,
    -- WGS-84 / CGCS2000 degrees.
    latitude     DOUBLE       NOT NULL,
    longitude    DOUBLE       NOT NULL,
    headquarters BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at   DATETIME(6)  NOT NULL,
    KEY ix_company_offices_company (company_id, created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE company_relations (
    id             CHAR(36)      NOT NULL PRIMARY KEY,
    source_id      CHAR(36)      NOT NULL,
    target_id      CHAR(36)      NOT NULL,
    kind           TINYINT       NOT NULL,
    disputed       BOOLEAN       NOT NULL DEFAULT FALSE,
    dispute_reason VARCHAR(1000) NOT NULL DEFAULT '',
    created_by     CHAR(36)      NOT NULL,
    created_at     DATETIME(6)   NOT NULL,
    UNIQUE KEY uq_company_relations (source_id, target_id, kind),
    KEY ix_company_relations_target (target_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Permission changes, verification transitions and denied checks. Append-only.
CREATE TABLE company_audit (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    company_id CHAR(36)     NOT NULL,
    action     VARCHAR(64)  NOT NULL,
    actor      CHAR(36)     NOT NULL,
    target     VARCHAR(255) NOT NULL DEFAULT '',
    detail     TEXT         NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    KEY ix_company_audit_company (company_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

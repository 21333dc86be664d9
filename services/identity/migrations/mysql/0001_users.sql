-- Accounts. The email is stored normalised (trimmed, lower-case) and is unique.
CREATE TABLE users (
    id            CHAR(36)     NOT NULL PRIMARY KEY,
    email         VARCHAR(254) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    -- Comma-separated role names: candidate, employer, admin.
    roles         VARCHAR(255) NOT NULL,
    version       BIGINT       NOT NULL DEFAULT 1,
    created_at    DATETIME(6)  NOT NULL,
    updated_at    DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_users_email (email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The Ed25519 key ring that signs access tokens. Every instance reads it, so tokens signed by one
-- verify at all; a key stays published until every token it signed has expired.
CREATE TABLE signing_keys (
    kid           VARCHAR(64)    NOT NULL PRIMARY KEY,
    private_pkcs8 VARBINARY(128) NOT NULL,
    public_key    VARBINARY(32)  NOT NULL,
    created_at    DATETIME(6)    NOT NULL,
    -- After this, the key no longer verifies and is not published.
    expires_at    DATETIME(6)    NOT NULL,
    KEY ix_signing_keys_created (created_at)
) ENGINE = InnoDB;

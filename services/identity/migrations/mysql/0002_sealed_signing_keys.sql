-- Signing keys are kept encrypted (AES-256-GCM under a key from the environment, see
-- store/key_cipher.rs): the sealed private key and the id of the key-encryption key that sealed
-- it. The plaintext column stays only so rows written before this migration can be read once and
-- re-sealed; identity then clears it.
ALTER TABLE signing_keys
    MODIFY private_pkcs8 VARBINARY(128) NULL,
    ADD COLUMN private_sealed VARBINARY(256) NULL AFTER private_pkcs8,
    ADD COLUMN sealed_with VARCHAR(32) NULL AFTER private_sealed;

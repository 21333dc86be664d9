//! The password policy, and hashing with argon2id.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use super::{Email, Invalid};

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 128;

/// A password that meets the policy. Never logged: `Debug` hides it.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// Checks the policy for a new password; every rule broken is listed.
    pub fn new_for(raw: &str, email: Option<&Email>) -> Result<Password, Vec<Invalid>> {
        let mut problems = Vec::new();
        // The mesh's text rule: no control characters (a NUL or a line break in a password
        // is a paste accident, and tools that read passwords from lines cannot type it).
        if let Some(why) = talentmesh_text::check_text(raw, talentmesh_text::Lines::Single) {
            problems.push(Invalid::new("password", why));
        }
        let chars = raw.chars().count();
        if chars < MIN_LEN {
            problems.push(Invalid::new(
                "password",
                format!("must be at least {MIN_LEN} characters"),
            ));
        }
        if chars > MAX_LEN {
            problems.push(Invalid::new(
                "password",
                format!("must be at most {MAX_LEN} characters"),
            ));
        }
        if !raw.chars().any(char::is_alphabetic) {
            problems.push(Invalid::new("password", "must contain a letter"));
        }
        if !raw.chars().any(|c| c.is_ascii_digit()) {
            problems.push(Invalid::new("password", "must contain a digit"));
        }
        if let Some(email) = email {
            if raw
                .to_lowercase()
                .contains(email.as_str().split('@').next().unwrap_or_default())
                && email
                    .as_str()
                    .split('@')
                    .next()
                    .is_some_and(|l| l.len() >= 4)
            {
                problems.push(Invalid::new(
                    "password",
                    "must not contain the email's name",
                ));
            }
        }
        if problems.is_empty() {
            Ok(Password(raw.to_string()))
        } else {
            Err(problems)
        }
    }

    /// A login attempt's password: only the length is bounded (hashing a megabyte is a DoS).
    pub fn attempt(raw: &str) -> Result<Password, Invalid> {
        if raw.is_empty() {
            return Err(Invalid::new("password", "is required"));
        }
        if raw.len() > MAX_LEN * 4 {
            return Err(Invalid::new("password", "is too long"));
        }
        Ok(Password(raw.to_string()))
    }

    /// argon2id with the crate's default (OWASP) parameters and a random salt. CPU-heavy: call
    /// from a blocking thread.
    pub fn hash(&self) -> Result<String, argon2::password_hash::Error> {
        let salt = SaltString::generate(&mut OsRng);
        Ok(Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)?
            .to_string())
    }

    /// True when the password matches the stored PHC string.
    pub fn verify(&self, phc: &str) -> bool {
        PasswordHash::new(phc)
            .map(|h| {
                Argon2::default()
                    .verify_password(self.0.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_lists_every_broken_rule() {
        let problems = Password::new_for("short", None).err().unwrap_or_default();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(Password::new_for("correct horse 42", None).is_ok());
    }

    #[test]
    fn hashes_verify() {
        let p = Password::new_for("correct horse 42", None).ok();
        let hash = p.as_ref().and_then(|p| p.hash().ok()).unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"));
        assert!(p.is_some_and(|p| p.verify(&hash)));
        assert!(!Password::attempt("wrong horse 42").is_ok_and(|p| p.verify(&hash)));
    }
}

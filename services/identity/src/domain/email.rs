//! A normalised email address: trimmed, Unicode NFKC and lower-cased, so `Ann@Example.com `,
//! `ann@example.com` and the full-width `ａｎｎ@example.com` are one account. Addresses that only
//! look like another are refused rather than becoming a second account: the local part and each
//! domain label must be written in one script, and a non-ASCII part whose confusable skeleton is
//! plain ASCII (every letter Cyrillic but read as `paypal`) is refused too. Both rules are the
//! mixed-script and confusable detection of Unicode TS #39 (`unicode-security`), the checks
//! browsers apply to internationalised domain names.

use unicode_normalization::UnicodeNormalization;
use unicode_security::{skeleton, MixedScript};

use super::Invalid;

/// Why `part` (the local part or one domain label) could pass for another address, if it could.
fn look_alike(part: &str) -> Option<&'static str> {
    if part.is_ascii() {
        return None;
    }
    if !part.is_single_script() {
        return Some("must not mix letters of different scripts (look-alike characters)");
    }
    if skeleton(part).all(|c| c.is_ascii()) {
        return Some("must not use letters that imitate Latin ones (look-alike characters)");
    }
    None
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// A new account's address: normalised, well formed, and no look-alike of another
    /// (INVALID_ARGUMENT on `email` otherwise).
    pub fn parse(raw: &str) -> Result<Email, Invalid> {
        Email::normalise(raw, true)
    }

    /// An address to look an existing account up by (login): normalised and well formed, but
    /// not held to the look-alike rule, so an account registered before the rule still logs
    /// in (a look-alike can only find the row it was registered as).
    pub fn lookup(raw: &str) -> Result<Email, Invalid> {
        Email::normalise(raw, false)
    }

    fn normalise(raw: &str, refuse_look_alikes: bool) -> Result<Email, Invalid> {
        // Checked before trimming: a tab or line break around the address is refused too.
        if let Some(why) = talentmesh_text::check_text(raw, talentmesh_text::Lines::Single) {
            return Err(Invalid::new("email", why));
        }
        // NFKC before and after lower-casing: compatibility forms (full-width letters, ligatures)
        // fold to their usual letters, and lower-casing cannot leave a non-NFKC string behind.
        let email: String = raw
            .trim()
            .nfkc()
            .collect::<String>()
            .to_lowercase()
            .nfkc()
            .collect();
        let bad = |why: &str| Err(Invalid::new("email", why));
        if email.is_empty() {
            return bad("is required");
        }
        if email.len() > 254 {
            return bad("must be at most 254 characters");
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return bad("must be an email address like name@example.com");
        };
        if local.is_empty() || local.len() > 64 {
            return bad("must have 1 to 64 characters before the @");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !domain_ok {
            return bad("must have a domain like example.com after the @");
        }
        let local_ok = local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return bad("has characters not allowed before the @");
        }
        if refuse_look_alikes {
            if let Some(why) = std::iter::once(local).chain(labels).find_map(look_alike) {
                return bad(why);
            }
        }
        Ok(Email(email))
    }

    /// An address read back from identity's own store, normalised when it was written: not
    /// checked again, so an account made under older rules stays readable.
    pub(crate) fn stored(email: String) -> Email {
        Email(email)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_rejects() {
        assert_eq!(
            Email::parse("  Ann@Example.COM ").map(|e| e.0),
            Ok("ann@example.com".into())
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a..b@example.com",
            "ann@-x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn folds_compatibility_forms_and_refuses_look_alikes() {
        assert_eq!(
            Email::parse("\u{ff21}nn@example.com").map(|e| e.0),
            Ok("ann@example.com".into())
        );
        for bad in [
            "p\u{430}ypal@example.com",
            "paypal@\u{435}xample.com",
            "\u{440}\u{430}\u{443}\u{440}\u{430}\u{4cf}@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
        for good in [
            "\u{43e}\u{43b}\u{44f}@example.com",
            "jos\u{e9}@example.com",
            "\u{7530}\u{4e2d}@example.jp",
        ] {
            assert!(Email::parse(good).is_ok(), "{good} should be accepted");
        }
    }
}

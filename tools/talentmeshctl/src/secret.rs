//! A password or token that never prints: `Debug` shows `Secret(***)`, and the value is only
//! reached through [`Secret::expose`] where it goes onto the wire.

use std::fmt;

#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether there is no value (no token configured).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

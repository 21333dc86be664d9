//! The CLI's errors. Every one prints as one line a person can act on; an answer of the
//! gateway names its HTTP status and the `google.rpc.ErrorInfo` reason it carried.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// The gateway or Consul answered with an error status.
    #[error("{method} {path}: HTTP {status}{}: {message}", reason.as_deref().map(|r| format!(" {r}")).unwrap_or_default())]
    Http {
        method: String,
        path: String,
        status: u16,
        /// The `ErrorInfo` reason, e.g. `RATE_LIMITED`, when the body had one.
        reason: Option<String>,
        message: String,
    },
    /// Nothing answered, or the answer was not what the API promises.
    #[error("{what}: {source}")]
    Transport {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The HTTP status of an error answer, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `ErrorInfo` reason of an error answer, if it had one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Error::Http { reason, .. } => reason.as_deref(),
            _ => None,
        }
    }
}

//! Why a call through the pool failed.

/// A failed call. Every variant says whether the request may have reached the upstream:
/// only [`Error::Connect`] and [`Error::ConnectTimeout`] guarantee that it did not.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No connection could be opened.
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        authority: String,
        source: std::io::Error,
    },
    /// Opening a connection took longer than the connect timeout.
    #[error("connecting to {0} timed out")]
    ConnectTimeout(String),
    /// The call's deadline passed (waiting for the answer or reading its body).
    #[error("timed out")]
    Timeout,
    /// The upstream closed the connection before the answer was complete.
    #[error("the upstream closed the connection before the answer was complete")]
    Closed,
    /// The exchange failed at the HTTP level (a malformed answer, a broken connection).
    #[error("{0}")]
    Http(#[from] hyper::Error),
}

impl Error {
    /// Whether the deadline or the connect timeout passed.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout | Error::ConnectTimeout(_))
    }

    /// Whether no connection could be opened (the request was not sent).
    #[must_use]
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Connect { .. } | Error::ConnectTimeout(_))
    }
}

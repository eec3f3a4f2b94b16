//! The errors of every store operation: [`StoreError`], what a caller may do about one
//! ([`StoreErrorKind`]), and the [`Result`] alias.

use std::fmt;

/// The error of every store operation. [`kind`](StoreError::kind) says what a caller may do
/// about it; an error of the database driver is [`StoreError::Backend`], with the driver's
/// error as its [`source`](std::error::Error::source).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached or written now (disk full, database down, pool closed); the
    /// operation did not take effect and may be tried again.
    Unavailable(String),
    /// The data on disk is not what this version understands (a newer schema, a corrupt row).
    Corrupt(String),
    /// The operation was refused because an argument breaks a documented rule (for example an
    /// id that exists already).
    Invalid(String),
    /// Too many writes are waiting for the store already (its write queue is full): the
    /// operation was refused before anything was done, and may be tried again shortly. Only
    /// accepts (storing new messages, creating runs, registering waiters) are refused so;
    /// other writes wait for room.
    Overloaded(String),
    /// The database driver failed; `kind` is decided from the driver's error code (SQLSTATE
    /// for PostgreSQL, the result code for SQLite), never from its message text.
    Backend {
        /// What kind of failure it is.
        kind: StoreErrorKind,
        /// What failed (never a secret such as a password).
        message: String,
        /// The driver's error.
        source: std::sync::Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(m)
            | StoreError::Corrupt(m)
            | StoreError::Invalid(m)
            | StoreError::Overloaded(m) => {
                write!(f, "{}: {m}", self.kind().describe())
            }
            StoreError::Backend { kind, message, .. } => {
                write!(f, "{}: {message}", kind.describe())
            }
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The driver's error itself, not the `Arc` around it, so that callers can downcast.
            StoreError::Backend { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

impl StoreError {
    /// What kind of failure it is.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::Unavailable(_) => StoreErrorKind::Unavailable,
            StoreError::Corrupt(_) => StoreErrorKind::Corrupt,
            StoreError::Invalid(_) => StoreErrorKind::Invalid,
            StoreError::Overloaded(_) => StoreErrorKind::Overloaded,
            StoreError::Backend { kind, .. } => *kind,
        }
    }

    /// A driver error of `kind`.
    pub fn backend(
        kind: StoreErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Backend {
            kind,
            message: message.into(),
            source: std::sync::Arc::new(source),
        }
    }
}

/// What kind of failure a [`StoreError`] is, and so what a caller may do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store cannot be reached or used now (database down, connection cut, pool or store
    /// closed): nothing took effect; try again later.
    Unavailable,
    /// The store has no room (disk full, quota): nothing took effect; try again after space was
    /// freed.
    Full,
    /// The operation lost a race with concurrent work (a deadlock, a serialization failure, a
    /// busy database) and was rolled back: running it again at once may succeed.
    Busy,
    /// An argument breaks a rule (a constraint, a value out of range): trying again will not
    /// help.
    Invalid,
    /// Stored data is not what this version understands (a newer schema, a corrupt row).
    Corrupt,
    /// Too many writes are waiting for the store (its write queue is full): nothing took
    /// effect; try again shortly.
    Overloaded,
    /// Anything else.
    Other,
}

impl StoreErrorKind {
    fn describe(self) -> &'static str {
        match self {
            StoreErrorKind::Unavailable => "store unavailable",
            StoreErrorKind::Full => "store full",
            StoreErrorKind::Busy => "store busy",
            StoreErrorKind::Invalid => "invalid store operation",
            StoreErrorKind::Corrupt => "store data is corrupt or from a newer version",
            StoreErrorKind::Overloaded => "store overloaded",
            StoreErrorKind::Other => "store error",
        }
    }
}

/// The result of every store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

//! Error types of the domain and of storage, each with a stable machine code.

use crate::status::{Action, Status};

/// A storage failure, as seen by the domain.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row changed under us (optimistic concurrency); the caller may retry.
    #[error("concurrent modification")]
    Concurrent,
    #[error("invalid reference: {0}")]
    InvalidReference(String),
    #[error("storage backend failure: {0}")]
    Backend(String),
}

/// Everything a domain operation can refuse, with a stable code for APIs.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("action `{action}` is not allowed from status `{from}`")]
    InvalidTransition { action: Action, from: Status },
    #[error("your role may not perform `{0}`")]
    ForbiddenAction(Action),
    #[error("outside your scope")]
    OutOfScope,
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the incident was changed concurrently; reload and retry")]
    Concurrent,
    #[error("storage failure")]
    Store(#[source] StoreError),
    #[error("{0}")]
    Split(SplitRefusal),
}

/// Why a message cannot be split out of an incident; each has its own stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SplitRefusal {
    #[error("the message is the incident's only one")]
    OnlyMessage,
    #[error("the message is not one of this incident's")]
    NotInIncident,
    #[error("the incident is finished")]
    Finished,
}

impl SplitRefusal {
    pub fn code(self) -> &'static str {
        match self {
            SplitRefusal::OnlyMessage => "only_message",
            SplitRefusal::NotInIncident => "message_not_in_incident",
            SplitRefusal::Finished => "incident_finished",
        }
    }
}

impl DomainError {
    /// Stable machine code of the error, part of the API contract.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::NotFound(_) => "not_found",
            DomainError::InvalidTransition { .. } => "invalid_transition",
            DomainError::ForbiddenAction(_) => "forbidden_action",
            DomainError::OutOfScope => "not_found",
            DomainError::Validation(_) => "validation_failed",
            DomainError::Conflict(_) => "conflict",
            DomainError::Concurrent => "concurrent_modification",
            DomainError::Store(_) => "internal",
            DomainError::Split(r) => r.code(),
        }
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => DomainError::NotFound("record"),
            StoreError::Conflict(m) => DomainError::Conflict(m),
            StoreError::Concurrent => DomainError::Concurrent,
            StoreError::InvalidReference(m) => DomainError::Validation(m),
            other => DomainError::Store(other),
        }
    }
}

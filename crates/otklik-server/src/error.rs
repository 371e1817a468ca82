//! The one HTTP error type: a status, a stable machine code and a message, as JSON; never internals.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use otklik_core::DomainError;
use serde::Serialize;
use utoipa::ToSchema;

/// Body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable `code` for programs and a `message` for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    /// For a refused file or text (reference data, a calendar year): the file it names…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// …and the line at fault, counted from 1, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// An error answered to an HTTP client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Where in a refused file or text, as (file, line).
    pub location: Option<(String, Option<usize>)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), location: None }
    }

    /// A refused file or text (422): the message names the file and line, and so do the `file`
    /// and `line` fields of the body.
    pub fn invalid_at(code: &'static str, e: &otklik_core::reference::ReferenceError) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message: e.to_string(),
            location: Some((e.file.clone(), e.line)),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; it has been logged")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (file, line) = self.location.map_or((None, None), |(f, l)| (Some(f), l));
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message, file, line } };
        (self.status, Json(body)).into_response()
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = match &e {
            DomainError::NotFound(_) | DomainError::OutOfScope => StatusCode::NOT_FOUND,
            DomainError::InvalidTransition { .. } | DomainError::Conflict(_) | DomainError::Concurrent => {
                StatusCode::CONFLICT
            }
            DomainError::ForbiddenAction(_) => StatusCode::FORBIDDEN,
            DomainError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            DomainError::Split(otklik_core::error::SplitRefusal::NotInIncident) => StatusCode::UNPROCESSABLE_ENTITY,
            DomainError::Split(_) => StatusCode::CONFLICT,
            DomainError::Store(inner) => {
                tracing::error!(error = %inner, "storage failure");
                return ApiError::internal();
            }
        };
        let message = match &e {
            DomainError::OutOfScope => "incident not found".to_string(),
            other => other.to_string(),
        };
        ApiError { status, code: e.code(), message, location: None }
    }
}

impl From<otklik_core::StoreError> for ApiError {
    fn from(e: otklik_core::StoreError) -> Self {
        DomainError::from(e).into()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("invalid request body: {}", e.body_text()),
            ),
            JsonRejection::JsonSyntaxError(e) => {
                Self::bad_request("malformed_json", format!("malformed JSON: {}", e.body_text()))
            }
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected `Content-Type: application/json`",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
            }
            other => Self::bad_request("invalid_body", other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::bad_request("invalid_path", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::bad_request("invalid_query", r.body_text())
    }
}

/// JSON body extractor whose rejections are `ApiError`s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct JsonBody<T>(pub T);

/// Path extractor whose rejections are `ApiError`s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct PathParam<T>(pub T);

/// Query extractor whose rejections are `ApiError`s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct QueryParams<T>(pub T);

pub type ApiResult<T> = Result<T, ApiError>;

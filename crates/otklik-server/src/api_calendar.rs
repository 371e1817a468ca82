//! The production calendar and the reload of reference files in the JSON API (administrators):
//! list, read, store and delete calendar years; re-read the reference files. Every successful
//! change reloads the catalog and recomputes the deadlines of unfinished incidents in the
//! background.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use otklik_core::reload::{CalendarYearInfo, ReloadError, ReloadReport};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, ErrorBody, PathParam};
use crate::reload::RecomputeStatus;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_calendar))
        .routes(routes!(get_calendar_year, put_calendar_year, delete_calendar_year))
        .routes(routes!(reload_reference))
}

/// The calendar in force.
#[derive(Debug, Serialize, ToSchema)]
struct CalendarOverview {
    /// Years covered by a file, ascending; other years follow the plain rule (weekends, the
    /// holidays of ст. 112 ТК РФ without transfers, the day before a holiday shortened).
    years: Vec<CalendarYearInfo>,
    /// The latest deadline recomputation after a change, if any since the server started.
    recompute: Option<RecomputeStatus>,
}

/// One year with its file.
#[derive(Debug, Serialize, ToSchema)]
struct CalendarYearDetail {
    #[serde(flatten)]
    info: CalendarYearInfo,
    /// The year's file, TOML in the format of `data/calendar/ru-*.toml`.
    text: String,
}

/// What a change did, and the recomputation of deadlines it started.
#[derive(Debug, Serialize, ToSchema)]
struct ChangeOutcome<T> {
    #[serde(flatten)]
    result: T,
    /// The sequence number of the deadline recomputation started in the background; compare
    /// with `recompute.seq` of `GET /api/v1/calendar`.
    recompute_seq: u64,
}

fn refused(e: ReloadError, code: &'static str) -> ApiError {
    match e {
        ReloadError::Invalid(e) => ApiError::invalid_at(code, &e),
        ReloadError::Domain(e) => e.into(),
    }
}

/// Years of the production calendar with their origin (embedded in the binary or stored in the
/// database) and counts of days, and the latest deadline recomputation (administrators).
#[utoipa::path(get, path = "/api/v1/calendar", tag = "reference",
    responses((status = 200, body = CalendarOverview), (status = 403, body = ErrorBody)))]
async fn list_calendar(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<CalendarOverview>> {
    auth.require_admin()?;
    Ok(Json(CalendarOverview { years: state.workflow.calendar_years().await?, recompute: state.recompute.latest() }))
}

/// One year of the calendar in force: its file's text and the days it lists (administrators).
/// 404 for a year without a file.
#[utoipa::path(get, path = "/api/v1/calendar/{year}", tag = "reference", params(("year" = i32, Path)),
    responses((status = 200, body = CalendarYearDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_calendar_year(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(year): PathParam<i32>,
) -> ApiResult<Json<CalendarYearDetail>> {
    auth.require_admin()?;
    let (info, text) = state.workflow.calendar_year(year).await?.ok_or_else(|| ApiError::not_found("calendar year"))?;
    Ok(Json(CalendarYearDetail { info, text }))
}

/// Store a year of the calendar (administrators): the body is the year's file as TOML text, in the
/// format of `data/calendar/ru-*.toml` (`Content-Type: application/toml` or `text/plain`). It
/// replaces the embedded file of that year, or adds a year without one. A text that is not valid,
/// or is for another year, is refused with `invalid_calendar` and the line at fault (`line`), and
/// nothing changes. Then the catalog is reloaded and the deadlines of unfinished incidents are
/// recomputed in the background.
#[utoipa::path(put, path = "/api/v1/calendar/{year}", tag = "reference", params(("year" = i32, Path)),
    request_body(content = String, content_type = "application/toml"),
    responses((status = 200, body = ChangeOutcome<CalendarYearInfo>), (status = 403, body = ErrorBody),
              (status = 422, description = "`invalid_calendar`, with `file` and `line`", body = ErrorBody)))]
async fn put_calendar_year(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(year): PathParam<i32>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ChangeOutcome<CalendarYearInfo>>> {
    auth.require_admin()?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
        } else {
            ApiError::bad_request("invalid_body", e.body_text())
        }
    })?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("invalid_body", "the body is not UTF-8"))?;
    let info = state
        .workflow
        .put_calendar_year(year, text, &auth.user.login)
        .await
        .map_err(|e| refused(e, "invalid_calendar"))?;
    tracing::info!(year, user = auth.user.id, "calendar year stored");
    let seq = state.recompute.spawn(state.workflow.clone(), format!("calendar {year} stored"));
    Ok(Json(ChangeOutcome { result: info, recompute_seq: seq }))
}

/// Delete a stored year (administrators): the embedded file of that year applies again (or the
/// plain rule, for a year without one), and deadlines are recomputed in the background.
#[utoipa::path(delete, path = "/api/v1/calendar/{year}", tag = "reference", params(("year" = i32, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, description = "the year is not stored", body = ErrorBody)))]
async fn delete_calendar_year(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(year): PathParam<i32>,
) -> ApiResult<StatusCode> {
    auth.require_admin()?;
    if !state.workflow.delete_calendar_year(year).await? {
        return Err(ApiError::not_found("stored calendar year"));
    }
    tracing::info!(year, user = auth.user.id, "stored calendar year deleted");
    state.recompute.spawn(state.workflow.clone(), format!("calendar {year} deleted"));
    Ok(StatusCode::NO_CONTENT)
}

/// Re-read the configured reference files (territories, organisations, taxonomy, sources,
/// routing, deadlines) and calendar folder, and replace the stored reference data with them
/// (administrators). The files are the source of truth: reference rows added or edited through
/// the API since are replaced. A set that is not valid as a whole is refused with
/// `invalid_reference`, the file and the line, and the running configuration stays in force.
#[utoipa::path(post, path = "/api/v1/reference/reload", tag = "reference",
    responses((status = 200, body = ChangeOutcome<ReloadReport>), (status = 403, body = ErrorBody),
              (status = 422, description = "`invalid_reference`, with `file` and `line`", body = ErrorBody)))]
async fn reload_reference(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<ChangeOutcome<ReloadReport>>> {
    auth.require_admin()?;
    let report = crate::reload::reload(&state.workflow, &state.settings.reference)
        .await
        .map_err(|e| refused(e, "invalid_reference"))?;
    tracing::info!(?report, user = auth.user.id, "reference files reloaded");
    let seq = state.recompute.spawn(state.workflow.clone(), "reference reload".into());
    Ok(Json(ChangeOutcome { result: report, recompute_seq: seq }))
}

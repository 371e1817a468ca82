//! Editing one year of the production calendar from the console: the year's TOML text, checked
//! as a calendar file would be, stored in place of the built-in year, then deadlines recomputed.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use otklik_core::reload::{CalendarOrigin, ReloadError};
use serde::Deserialize;

use super::{Console, Nav, NotFound, page};
use crate::app::AppState;

/// Years the console edits (the calendar files' range).
const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

#[derive(Template)]
#[template(path = "admin_calendar.html")]
struct CalendarPage {
    nav: Nav,
    year: i32,
    text: String,
    stored: bool,
    error: Option<String>,
}

fn not_found(c: &Console, status: StatusCode) -> Response {
    page(status, NotFound { nav: c.nav("admin") }.render())
}

fn render(c: &Console, year: i32, text: String, stored: bool, error: Option<String>) -> Response {
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    page(status, CalendarPage { nav: c.nav("admin"), year, text, stored, error }.render())
}

/// The year's text (stored, else built in, else a start for a year without a file).
pub(super) async fn edit_page(State(state): State<AppState>, c: Console, Path(year): Path<i32>) -> Response {
    if !c.auth.actor.is_admin() {
        return not_found(&c, StatusCode::FORBIDDEN);
    }
    if !YEARS.contains(&year) {
        return not_found(&c, StatusCode::NOT_FOUND);
    }
    match state.workflow.calendar_year(year).await {
        Ok(Some((info, text))) => render(&c, year, text, info.origin == CalendarOrigin::Stored, None),
        Ok(None) => render(&c, year, format!("year = {year}\nholidays = []\n"), false, None),
        Err(e) => {
            tracing::warn!(error = %e, year, "calendar year unreadable");
            not_found(&c, StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CalendarForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    text: String,
}

/// Stores the year if it is a valid calendar file; a refusal shows the text again with the line
/// at fault and changes nothing.
pub(super) async fn save(
    State(state): State<AppState>,
    c: Console,
    Path(year): Path<i32>,
    Form(f): Form<CalendarForm>,
) -> Response {
    if !c.auth.actor.is_admin() || !crate::auth::csrf_matches(&c.auth, &f.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    if !YEARS.contains(&year) {
        return not_found(&c, StatusCode::NOT_FOUND);
    }
    let stored = matches!(
        state.workflow.calendar_year(year).await,
        Ok(Some((info, _))) if info.origin == CalendarOrigin::Stored
    );
    match state.workflow.put_calendar_year(year, &f.text, &c.auth.user.login).await {
        Ok(_) => {
            tracing::info!(year, admin = c.auth.user.id, "calendar year stored in the console");
            state.recompute.spawn(state.workflow.clone(), format!("calendar {year} stored"));
            Redirect::to("/admin?saved=calendar#calendar").into_response()
        }
        Err(ReloadError::Invalid(e)) => {
            let at = e.line.map(|l| format!(" (строка {l})")).unwrap_or_default();
            let msg = format!("Календарь не сохранён: ошибка в тексте{at}: {}", e.message);
            render(&c, year, f.text, stored, Some(msg))
        }
        Err(ReloadError::Domain(e)) => {
            tracing::warn!(error = %e, year, "calendar year not stored");
            render(&c, year, f.text, stored, Some("Календарь не сохранён; попробуйте ещё раз.".into()))
        }
    }
}

/// Drops the stored year: the built-in file (or the plain rule) applies again.
pub(super) async fn restore(
    State(state): State<AppState>,
    c: Console,
    Path(year): Path<i32>,
    Form(f): Form<super::CsrfForm>,
) -> Response {
    if !c.auth.actor.is_admin() || !crate::auth::csrf_matches(&c.auth, &f.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    match state.workflow.delete_calendar_year(year).await {
        Ok(true) => {
            tracing::info!(year, admin = c.auth.user.id, "stored calendar year deleted in the console");
            state.recompute.spawn(state.workflow.clone(), format!("calendar {year} deleted"));
            Redirect::to("/admin?saved=calendar#calendar").into_response()
        }
        Ok(false) => not_found(&c, StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::warn!(error = %e, year, "stored calendar year not deleted");
            not_found(&c, StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

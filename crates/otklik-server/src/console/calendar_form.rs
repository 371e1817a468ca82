//! Editing one year of the production calendar from the console: the year's TOML text, checked
//! as a calendar file would be, stored in place of the built-in year, then deadlines recomputed.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate, Weekday};
use otklik_core::calendar::{CalendarError, CalendarProblem};
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
            // The same check again, for what is wrong as a problem to word in Russian.
            let (line, what) = match otklik_core::reload::calendar_year(year, "calendar", &f.text) {
                Err(CalendarError::File { line, problem, .. }) => (line, problem_ru(&problem)),
                _ => (e.line, e.message),
            };
            let at = line.map(|l| format!(" (строка {l})")).unwrap_or_default();
            let msg = format!("Календарь не сохранён: ошибка в тексте{at}: {what}");
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

/// A calendar file's problem in the administrator's words. List names stay as written in the
/// text, since that is where they are corrected.
fn problem_ru(problem: &CalendarProblem) -> String {
    let day = |d: &NaiveDate| d.format("%d.%m.%Y").to_string();
    let weekday = |d: &NaiveDate| match d.weekday() {
        Weekday::Mon => "понедельник",
        Weekday::Tue => "вторник",
        Weekday::Wed => "среда",
        Weekday::Thu => "четверг",
        Weekday::Fri => "пятница",
        Weekday::Sat => "суббота",
        Weekday::Sun => "воскресенье",
    };
    match problem {
        CalendarProblem::Syntax(detail) => {
            format!(
                "текст не читается как файл календаря (TOML: кавычки, запятые, скобки, поля year и source); разбор: {detail}"
            )
        }
        CalendarProblem::YearOutOfRange(y) => format!("год {y} вне допустимого диапазона"),
        CalendarProblem::NoSource => "в поле source нужно назвать правовой акт".into(),
        CalendarProblem::NotADate { list, value } => format!("«{value}» в списке {list} — не дата вида ГГГГ-ММ-ДД"),
        CalendarProblem::DateWithTime { list, value } => {
            format!("«{value}» в списке {list}: нужна дата без времени")
        }
        CalendarProblem::NotDates { list, found } => format!("в списке {list} должны быть даты, а не «{found}»"),
        CalendarProblem::OutsideYear { list, date, year } => {
            format!("дата {} в списке {list} не относится к {year} году", day(date))
        }
        CalendarProblem::ShortNotWorking(d) => format!("{} в списке short_days — не рабочий день", day(d)),
        CalendarProblem::Twice { list, date } => format!("{} указана в списке {list} дважды", day(date)),
        CalendarProblem::TwoLists { first, second, date } => {
            format!("{} указана и в списке {first}, и в списке {second}", day(date))
        }
        CalendarProblem::TransferOnWeekend(d) => format!(
            "{} в списке transferred_days_off — {}, а перенесённый выходной приходится на будний день",
            day(d),
            weekday(d)
        ),
        CalendarProblem::WorkingWeekendOnWeekday(d) => format!(
            "{} в списке working_weekends — {}, а рабочей может стать только суббота или воскресенье",
            day(d),
            weekday(d)
        ),
        CalendarProblem::YearTwice(y) => format!("{y} год задан больше чем одним файлом"),
        CalendarProblem::WrongYear { found, expected } => format!("текст описывает {found} год, а не {expected}"),
        CalendarProblem::NotEditable { year, first, last } => {
            format!("{year} год изменить нельзя: доступны годы с {first} по {last}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_worded_in_russian() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 7).unwrap();
        let problems = [
            CalendarProblem::YearOutOfRange(0),
            CalendarProblem::NoSource,
            CalendarProblem::NotADate { list: "holidays", value: "2026-03-32".into() },
            CalendarProblem::DateWithTime { list: "holidays", value: "2026-03-08T10:00:00".into() },
            CalendarProblem::NotDates { list: "holidays", found: "1".into() },
            CalendarProblem::OutsideYear { list: "holidays", date: d, year: 2027 },
            CalendarProblem::ShortNotWorking(d),
            CalendarProblem::Twice { list: "holidays", date: d },
            CalendarProblem::TwoLists { first: "holidays", second: "transferred_days_off", date: d },
            CalendarProblem::TransferOnWeekend(d),
            CalendarProblem::WorkingWeekendOnWeekday(d),
            CalendarProblem::YearTwice(2026),
            CalendarProblem::WrongYear { found: 2025, expected: 2026 },
            CalendarProblem::NotEditable { year: 2030, first: 2024, last: 2028 },
        ];
        for p in problems {
            let text = problem_ru(&p);
            // Values quoted from the text may be Latin; the wording around them is not.
            let wording = text.replace("ГГГГ-ММ-ДД", "").to_lowercase();
            assert!(wording.chars().any(|c| ('а'..='я').contains(&c)), "{p:?}: {text}");
            for english in ["is ", "not ", "must", "year ", "listed", "outside"] {
                assert!(!wording.contains(english), "{p:?}: {text}");
            }
        }
        assert_eq!(
            problem_ru(&CalendarProblem::TransferOnWeekend(d)),
            "07.03.2026 в списке transferred_days_off — суббота, а перенесённый выходной приходится на будний день"
        );
    }
}

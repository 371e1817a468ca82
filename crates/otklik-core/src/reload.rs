//! Changing the running configuration as a whole: production calendar years stored in the database
//! and a reload of all reference data. Everything is validated before anything is written, so a
//! refused change leaves both the store and the running catalog as they were.

use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::calendar::{CalendarError, CalendarProblem, CalendarYear, ProductionCalendar};
use crate::error::DomainError;
use crate::model::Role;
use crate::reference::{ReferenceData, ReferenceError};
use crate::store::StoredCalendarYear;
use crate::workflow::Workflow;

/// Years an administrator may store: wide enough for any real calendar, narrow enough that the
/// calendar's day table stays small.
pub const EDITABLE_YEARS: RangeInclusive<i32> = 2000..=2100;

/// The name a stored year's text goes by in error messages, as its file would be named.
pub fn calendar_file_name(year: i32) -> String {
    format!("ru-{year}.toml")
}

/// Where a calendar year comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CalendarOrigin {
    /// The file built into the binary (`data/calendar/`).
    Embedded,
    /// A year stored in the database, replacing the embedded file of that year if there is one.
    Stored,
}

/// A year of the calendar in force, with where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CalendarYearInfo {
    pub origin: CalendarOrigin,
    #[serde(flatten)]
    pub year: CalendarYear,
    /// When and by whom a stored year was stored.
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

/// A change refused, or a failure applying it.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new configuration is invalid: the file (or request) and line at fault.
    #[error("{0}")]
    Invalid(ReferenceError),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<CalendarError> for ReloadError {
    fn from(e: CalendarError) -> Self {
        ReloadError::Invalid(match e {
            CalendarError::File { file, line, problem } => ReferenceError { file, line, message: problem.to_string() },
            other => ReferenceError { file: "calendar".into(), line: None, message: other.to_string() },
        })
    }
}

/// What a reload replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReloadReport {
    pub territories: usize,
    pub organisations: usize,
    pub categories: usize,
    pub sources: usize,
    pub routing_rules: usize,
    pub deadline_policies: usize,
    /// Calendar years now stored (those of the calendar folder that differ from the embedded
    /// files); `None` when no calendar folder was given and the stored years were kept.
    pub calendar_years: Option<usize>,
}

fn line_of_year(text: &str) -> Option<usize> {
    text.lines().position(|l| l.trim_start().starts_with("year")).map(|i| i + 1)
}

/// Parses one year's text for storing as `year`: valid, of that year, within [`EDITABLE_YEARS`].
pub fn check_calendar_year(year: i32, name: &str, text: &str) -> Result<CalendarYear, ReloadError> {
    calendar_year(year, name, text).map_err(ReloadError::from)
}

/// [`check_calendar_year`] with the refusal as a [`CalendarError::File`], whose problem the
/// console words for its reader.
pub fn calendar_year(year: i32, name: &str, text: &str) -> Result<CalendarYear, CalendarError> {
    let parsed = ProductionCalendar::parse_year(name, text)?;
    let fail = |problem: CalendarProblem| CalendarError::File { file: name.into(), line: line_of_year(text), problem };
    if parsed.year != year {
        return Err(fail(CalendarProblem::WrongYear { found: parsed.year, expected: year }));
    }
    if !EDITABLE_YEARS.contains(&year) {
        let (first, last) = (*EDITABLE_YEARS.start(), *EDITABLE_YEARS.end());
        return Err(fail(CalendarProblem::NotEditable { year, first, last }));
    }
    Ok(parsed)
}

fn stored_files(stored: &[StoredCalendarYear]) -> Vec<(String, &str)> {
    stored.iter().map(|y| (format!("stored {}", calendar_file_name(y.year)), y.text.as_str())).collect()
}

fn as_refs<'a>(files: &'a [(String, &'a str)]) -> Vec<(&'a str, &'a str)> {
    files.iter().map(|(n, t)| (n.as_str(), *t)).collect()
}

/// Validates calendar files (name, TOML text) together — each valid, of a year within
/// [`EDITABLE_YEARS`], one file per year — and returns those that differ from the embedded file
/// of their year, as rows to store.
pub fn calendar_rows(files: &[(String, String)], now: DateTime<Utc>) -> Result<Vec<StoredCalendarYear>, ReloadError> {
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let mut rows = Vec::new();
    for (name, text) in &refs {
        let parsed = ProductionCalendar::parse_year(name, text)?;
        check_calendar_year(parsed.year, name, text)?;
        let embedded = ProductionCalendar::embedded_files()
            .iter()
            .filter_map(|(n, t)| ProductionCalendar::parse_year(n, t).ok())
            .find(|y| y.year == parsed.year);
        if embedded.as_ref() != Some(&parsed) {
            rows.push(StoredCalendarYear {
                year: parsed.year,
                text: (*text).to_string(),
                updated_at: now,
                updated_by: Some("reference reload".into()),
            });
        }
    }
    // The files together: one file per year.
    ProductionCalendar::parse(&refs)?;
    Ok(rows)
}

impl Workflow {
    /// The calendar in force: the embedded files overridden by the stored years.
    pub async fn stored_calendar(&self) -> Result<ProductionCalendar, DomainError> {
        let stored = self.store().calendar_years().await?;
        if stored.is_empty() {
            return Ok(ProductionCalendar::default());
        }
        let files = stored_files(&stored);
        // Years are validated before they are stored; a failure here means the database was
        // edited by hand, and is reported as such rather than silently ignored.
        ProductionCalendar::with_overrides(&as_refs(&files)).map_err(|e| DomainError::Validation(e.to_string()))
    }

    /// Every year covered by a file, embedded or stored, ascending.
    pub async fn calendar_years(&self) -> Result<Vec<CalendarYearInfo>, DomainError> {
        let stored = self.store().calendar_years().await?;
        let files = stored_files(&stored);
        let years =
            ProductionCalendar::describe(&as_refs(&files)).map_err(|e| DomainError::Validation(e.to_string()))?;
        Ok(years
            .into_iter()
            .map(|(year, is_stored)| {
                let row = stored.iter().find(|s| is_stored && s.year == year.year);
                CalendarYearInfo {
                    origin: if is_stored { CalendarOrigin::Stored } else { CalendarOrigin::Embedded },
                    updated_at: row.map(|r| r.updated_at),
                    updated_by: row.and_then(|r| r.updated_by.clone()),
                    year,
                }
            })
            .collect())
    }

    /// One year in force with its TOML text; `None` for a year without a file (plain rule).
    pub async fn calendar_year(&self, year: i32) -> Result<Option<(CalendarYearInfo, String)>, DomainError> {
        let Some(info) = self.calendar_years().await?.into_iter().find(|y| y.year.year == year) else {
            return Ok(None);
        };
        let text = match info.origin {
            CalendarOrigin::Stored => self.store().calendar_year(year).await?.map(|y| y.text),
            CalendarOrigin::Embedded => ProductionCalendar::embedded_files()
                .iter()
                .find(|(n, t)| ProductionCalendar::parse_year(n, t).is_ok_and(|y| y.year == year))
                .map(|(_, t)| (*t).to_string()),
        };
        Ok(text.map(|t| (info, t)))
    }

    /// Stores a year's text (replacing the embedded file of that year) after validating it, and
    /// reloads the catalog. Deadlines are not recomputed here: callers run
    /// [`Workflow::recompute_deadlines`] (it may take long).
    pub async fn put_calendar_year(&self, year: i32, text: &str, by: &str) -> Result<CalendarYearInfo, ReloadError> {
        let name = calendar_file_name(year);
        let parsed = check_calendar_year(year, &name, text)?;
        let row =
            StoredCalendarYear { year, text: text.to_string(), updated_at: self.now(), updated_by: Some(by.into()) };
        self.store().put_calendar_year(&row).await.map_err(DomainError::from)?;
        self.reload_catalog().await?;
        Ok(CalendarYearInfo {
            origin: CalendarOrigin::Stored,
            year: parsed,
            updated_at: Some(row.updated_at),
            updated_by: row.updated_by,
        })
    }

    /// Removes a stored year (the embedded file or the plain rule applies again) and reloads the
    /// catalog. False when the year was not stored.
    pub async fn delete_calendar_year(&self, year: i32) -> Result<bool, DomainError> {
        let deleted = self.store().delete_calendar_year(year).await?;
        if deleted {
            self.reload_catalog().await?;
        }
        Ok(deleted)
    }

    /// Replaces all reference data — and, when `calendar` (name, TOML text of each year's file)
    /// is given, the stored calendar years — by a new set read from files, which are the source
    /// of truth on an explicit reload: rows added or edited through the API since are replaced.
    ///
    /// `data` comes validated from [`ReferenceData::parse`]. Here the calendar files are
    /// validated together, and the accounts' grants must still name existing nodes. Only then is
    /// everything written in one transaction and the catalog reloaded; on any error nothing
    /// stored or running changes. Calendar files equal to the embedded file of their year are not
    /// stored. Deadlines are not recomputed here (see [`Workflow::put_calendar_year`]).
    pub async fn replace_reference(
        &self,
        data: &ReferenceData,
        calendar: Option<&[(String, String)]>,
    ) -> Result<ReloadReport, ReloadError> {
        let now = self.now();
        let stored = calendar.map(|files| calendar_rows(files, now)).transpose()?;
        self.check_grants(data).await?;
        self.store().replace_reference(data, stored.as_deref()).await.map_err(DomainError::from)?;
        self.reload_catalog().await?;
        Ok(ReloadReport {
            territories: data.territories.len(),
            organisations: data.organisations.len(),
            categories: data.categories.len(),
            sources: data.sources.len(),
            routing_rules: data.routing.len(),
            deadline_policies: data.deadlines.len(),
            calendar_years: stored.map(|s| s.len()),
        })
    }

    /// Every account's grants must name a node of the new data, or the account would lose (or
    /// silently change) its scope.
    async fn check_grants(&self, data: &ReferenceData) -> Result<(), ReloadError> {
        for user in self.store().users().await.map_err(DomainError::from)? {
            for g in &user.grants {
                let Some(node) = &g.node else { continue };
                let (file, known) = if g.role.bound_to_organisation() {
                    ("organisations.toml", data.organisations.iter().any(|o| &o.code == node))
                } else {
                    ("territories.toml", data.territories.iter().any(|t| &t.code == node))
                };
                if !known && g.role != Role::Admin {
                    return Err(ReloadError::Invalid(ReferenceError {
                        file: file.into(),
                        line: None,
                        message: format!("`{node}` is missing, but the account `{}` is granted on it", user.login),
                    }));
                }
            }
        }
        Ok(())
    }
}

//! The calendar in force: embedded files overridden by stored years, and what that does to
//! working-time arithmetic and to the catalog's clockwork.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use otklik_core::calendar::{DayKind, ProductionCalendar, WorkingHours, add_working_time};
use otklik_core::reload::{ReloadError, check_calendar_year};
use otklik_core::workflow::Catalog;

const MSK: chrono_tz::Tz = chrono_tz::Europe::Moscow;

fn msk(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    MSK.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().with_timezone(&Utc)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn embedded(year: i32) -> &'static str {
    ProductionCalendar::embedded_files().iter().find(|(n, _)| n.contains(&year.to_string())).unwrap().1
}

/// The embedded 2026 with Tuesday 3 March made a day off by transfer.
fn edited_2026() -> String {
    embedded(2026).replace(
        "    \"2026-03-09\", # from Sun 8 March",
        "    \"2026-03-03\",\n    \"2026-03-09\", # from Sun 8 March",
    )
}

fn nine_hours_from_tuesday(cal: &ProductionCalendar) -> DateTime<Utc> {
    add_working_time(msk(2026, 3, 3, 9), Duration::hours(9), MSK, &WorkingHours::default(), cal)
}

#[test]
fn a_stored_year_replaces_the_embedded_one() {
    assert_eq!(nine_hours_from_tuesday(ProductionCalendar::russia()), msk(2026, 3, 3, 18));
    let text = edited_2026();
    let cal = ProductionCalendar::with_overrides(&[("stored ru-2026.toml", &text)]).unwrap();
    assert_eq!(cal.day_kind(date(2026, 3, 3)), DayKind::Off);
    assert_eq!(nine_hours_from_tuesday(&cal), msk(2026, 3, 4, 18));
    // The other embedded years are untouched, and so is the rest of 2026.
    for d in [date(2025, 11, 3), date(2027, 1, 8), date(2026, 12, 31), date(2026, 3, 9)] {
        assert_eq!(cal.day_kind(d), ProductionCalendar::russia().day_kind(d), "{d}");
    }
    assert_eq!(cal.years().map(|(y, _)| y).collect::<Vec<_>>(), vec![2025, 2026, 2027]);
}

#[test]
fn a_year_without_a_file_can_be_added() {
    let text = "year = 2028\nsource = \"test\"\nholidays = [\"2028-01-01\"]\ntransferred_days_off = [\"2028-03-07\"]\n";
    // The plain rule shortens the day before 8 March.
    assert_eq!(ProductionCalendar::russia().day_kind(date(2028, 3, 7)), DayKind::Short);
    let cal = ProductionCalendar::with_overrides(&[("ru-2028.toml", text)]).unwrap();
    assert_eq!(cal.day_kind(date(2028, 3, 7)), DayKind::Off);
    // This file lists no 8 March: it is a working day, unlike under the plain rule.
    assert_eq!(cal.day_kind(date(2028, 3, 8)), DayKind::Working);
    assert!(cal.covers(2028) && cal.covers(2026));
    let described = ProductionCalendar::describe(&[("ru-2028.toml", text)]).unwrap();
    let origins: Vec<(i32, bool)> = described.iter().map(|(y, stored)| (y.year, *stored)).collect();
    assert_eq!(origins, vec![(2025, false), (2026, false), (2027, false), (2028, true)]);
}

#[test]
fn a_bad_override_names_its_file_and_line() {
    let text = edited_2026().replace("\"2026-03-03\"", "\"2026-03-07\"");
    let e = ProductionCalendar::with_overrides(&[("ru-2026.toml", &text)]).unwrap_err();
    let line = text.lines().position(|l| l.contains("2026-03-07")).unwrap() + 1;
    assert_eq!(
        e.to_string(),
        format!("ru-2026.toml:{line}: 2026-03-07 in `transferred_days_off` is a Sat, not Mon–Fri")
    );
}

#[test]
fn years_are_checked_against_the_year_they_are_stored_as() {
    let text = edited_2026();
    assert!(check_calendar_year(2026, "ru-2026.toml", &text).is_ok());
    match check_calendar_year(2027, "ru-2027.toml", &text).unwrap_err() {
        ReloadError::Invalid(e) => {
            assert_eq!(e.line, Some(text.lines().position(|l| l.starts_with("year")).unwrap() + 1));
            assert!(e.message.contains("not 2027"), "{e}");
        }
        other => panic!("{other}"),
    }
    let far = "year = 2300\nsource = \"x\"\nholidays = []\n";
    assert!(check_calendar_year(2300, "ru-2300.toml", far).unwrap_err().to_string().contains("outside"));
}

#[test]
fn the_summary_counts_the_official_totals() {
    let y = ProductionCalendar::parse_year("ru-2026.toml", embedded(2026)).unwrap();
    // The official 2026 figures for a 40-hour week.
    assert_eq!((y.working_days, y.working_hours_40), (247, 1972));
    assert_eq!(y.transferred_days_off.len(), 4);
    assert_eq!(y.short_days[0], date(2026, 4, 30));
}

#[test]
fn the_catalog_counts_on_its_own_calendar() {
    let catalog = Catalog::default();
    assert_eq!(*catalog.calendar, *ProductionCalendar::russia());
    let text = edited_2026();
    let cal = ProductionCalendar::with_overrides(&[("ru-2026.toml", &text)]).unwrap();
    let catalog = catalog.with_calendar(Arc::new(cal));
    let clock = catalog.clockwork(None, None);
    let due = add_working_time(msk(2026, 3, 3, 9), Duration::hours(9), clock.zone, clock.hours, clock.calendar);
    assert_eq!(due, msk(2026, 3, 4, 18));
}

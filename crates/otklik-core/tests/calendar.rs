//! Working-time arithmetic under the Russian production calendar: worked examples from the official
//! calendars, file validation, and properties checked against a minute-by-minute model.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use otklik_core::calendar::{
    CalendarError, DayKind, ProductionCalendar, WorkingHours, add_working_time, format_in_zone, is_working_time,
    next_working_time, parse_hours_amount, parse_instant, parse_zone, working_time_between,
};
use proptest::prelude::*;

const MSK: Tz = chrono_tz::Europe::Moscow;

/// The eleven Russian time zones, west to east.
const RUSSIAN_ZONES: [Tz; 11] = [
    chrono_tz::Europe::Kaliningrad,
    chrono_tz::Europe::Moscow,
    chrono_tz::Europe::Samara,
    chrono_tz::Asia::Yekaterinburg,
    chrono_tz::Asia::Omsk,
    chrono_tz::Asia::Krasnoyarsk,
    chrono_tz::Asia::Irkutsk,
    chrono_tz::Asia::Yakutsk,
    chrono_tz::Asia::Vladivostok,
    chrono_tz::Asia::Magadan,
    chrono_tz::Asia::Kamchatka,
];

fn cal() -> &'static ProductionCalendar {
    ProductionCalendar::russia()
}

/// `due` as the CLI computes it: local or RFC 3339 start, decimal hours, result in the zone.
fn due_with(from: &str, hours: &str, zone: Tz, working: &str) -> String {
    let start = parse_instant(from, zone).unwrap();
    let amount = parse_hours_amount(hours).unwrap();
    let wh = WorkingHours::parse(working).unwrap();
    format_in_zone(add_working_time(start, amount, zone, &wh, cal()), zone)
}

fn due(from: &str, hours: &str) -> String {
    due_with(from, hours, MSK, "09:00-18:00")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

// --- the embedded calendar -------------------------------------------------------------------

#[test]
fn embedded_calendar_matches_the_official_norms() {
    // Each file states 247 working days and 1972 hours for a 40-hour week.
    for year in 2025..=2027 {
        assert!(cal().covers(year));
        let days: Vec<DayKind> =
            date(year, 1, 1).iter_days().take_while(|d| d.year() == year).map(|d| cal().day_kind(d)).collect();
        let working = days.iter().filter(|k| **k != DayKind::Off).count();
        let short = days.iter().filter(|k| **k == DayKind::Short).count();
        assert_eq!((year, working, working * 8 - short), (year, 247, 1972));
    }
    assert!(!cal().covers(2024) && !cal().covers(2028));
    assert_eq!(cal().years().map(|(y, _)| y).collect::<Vec<_>>(), vec![2025, 2026, 2027]);
}

#[test]
fn a_year_of_eight_hour_days_is_the_official_norm() {
    let lunch = WorkingHours::parse("09:00-13:00,14:00-18:00").unwrap();
    for year in 2025..=2027 {
        let a = parse_instant(&format!("{year}-01-01T00:00"), MSK).unwrap();
        let b = parse_instant(&format!("{}-01-01T00:00", year + 1), MSK).unwrap();
        assert_eq!(working_time_between(a, b, MSK, &lunch, cal()), Duration::hours(1972), "{year}");
    }
}

#[test]
fn day_kinds_of_the_embedded_calendar() {
    use DayKind::*;
    let k = |y, m, d| cal().day_kind(date(y, m, d));
    assert_eq!(k(2025, 11, 1), Short); // working Saturday, shortened
    assert_eq!(k(2025, 11, 3), Off); // transferred from 1 November
    assert_eq!(k(2025, 3, 7), Short);
    assert_eq!(k(2025, 12, 30), Working); // 31 December is a transferred day off, not a holiday
    assert_eq!(k(2025, 12, 31), Off);
    assert_eq!(k(2026, 1, 9), Off);
    assert_eq!(k(2026, 1, 12), Working);
    assert_eq!(k(2026, 5, 8), Short);
    assert_eq!(k(2027, 2, 20), Short);
    assert_eq!(k(2027, 2, 22), Off);
    // Outside the files: the plain rule.
    assert_eq!(k(2030, 3, 7), Short);
    assert_eq!(k(2030, 3, 8), Off);
    assert_eq!(k(2024, 12, 31), Short);
}

// --- worked examples (Moscow, 09:00-18:00 unless said) ----------------------------------------

#[test]
fn new_year_holidays() {
    // 31 December 2026 is off by transfer, 1–8 January are holidays, 9–10 January a weekend.
    assert_eq!(due("2026-12-30T17:00", "9"), "2027-01-11T17:00:00+03:00");
    assert_eq!(due("2026-12-30T17:00", "1"), "2026-12-30T18:00:00+03:00");
    assert_eq!(due("2025-12-30T18:00", "0.5"), "2026-01-12T09:30:00+03:00");
}

#[test]
fn a_transferred_working_saturday() {
    // Friday 31 October 2025, then the working (shortened) Saturday 1 November.
    assert_eq!(due("2025-10-31T17:00", "2"), "2025-11-01T10:00:00+03:00");
    // 1 November ends at 17:00; 2 November is a Sunday, 3 November off, 4 November a holiday.
    assert_eq!(due("2025-11-01T09:00", "8"), "2025-11-01T17:00:00+03:00");
    assert_eq!(due("2025-11-01T09:00", "9"), "2025-11-05T10:00:00+03:00");
}

#[test]
fn a_shortened_pre_holiday_day() {
    assert_eq!(due("2025-03-07T16:00", "1"), "2025-03-07T17:00:00+03:00");
    assert_eq!(due("2025-03-07T16:30", "1"), "2025-03-10T09:30:00+03:00");
    // Starting after the shortened end counts from the next working day.
    assert_eq!(due("2025-03-07T17:30", "1"), "2025-03-10T10:00:00+03:00");
    // With a lunch break the last hour is cut from the afternoon.
    assert_eq!(due_with("2025-03-07T09:00", "7", MSK, "09:00-13:00,14:00-18:00"), "2025-03-07T17:00:00+03:00");
}

#[test]
fn deadlines_across_the_may_holidays() {
    // 2025: 30 April short; 1 May holiday; 2 May off; 3–4 May weekend; 8 May off; 9 May holiday.
    assert_eq!(due("2025-04-30T12:00", "9"), "2025-05-05T13:00:00+03:00");
    assert_eq!(due("2025-05-07T09:00", "18"), "2025-05-12T18:00:00+03:00");
    // 2026: 8 May short, 9 May a Saturday holiday, 11 May off by ст. 112 ч. 2.
    assert_eq!(due("2026-05-08T15:00", "3"), "2026-05-12T10:00:00+03:00");
    // Seven working days of nine hours from 27 April 2026.
    // (30 April is shortened: 27 + 8 + 27 hours by 6 May.)
    assert_eq!(due("2026-04-27T09:00", "63"), "2026-05-07T10:00:00+03:00");
}

#[test]
fn midnight_and_end_of_day_boundaries() {
    assert_eq!(due("2026-03-03T00:00", "1"), "2026-03-03T10:00:00+03:00");
    assert_eq!(due("2026-03-02T23:59:59", "1"), "2026-03-03T10:00:00+03:00");
    assert_eq!(due("2026-03-03T18:00", "1"), "2026-03-04T10:00:00+03:00");
    // Round-the-clock hours: an interval ending at 24:00 meets the next day's 00:00.
    assert_eq!(due_with("2026-03-03T23:00", "1", MSK, "00:00-24:00"), "2026-03-04T00:00:00+03:00");
    assert_eq!(due_with("2026-03-03T23:00", "2", MSK, "00:00-24:00"), "2026-03-04T01:00:00+03:00");
    // Friday night to Monday.
    assert_eq!(due_with("2026-03-06T23:00", "2", MSK, "00:00-24:00"), "2026-03-10T01:00:00+03:00");
}

#[test]
fn completion_exactly_at_the_end_of_the_day() {
    assert_eq!(due("2026-03-03T09:00", "9"), "2026-03-03T18:00:00+03:00");
    assert_eq!(due("2026-03-06T09:00", "9"), "2026-03-06T18:00:00+03:00"); // a Friday: not Tuesday
    assert_eq!(due("2026-03-03T09:00", "18"), "2026-03-04T18:00:00+03:00");
}

#[test]
fn a_lunch_break() {
    let lunch = "09:00-13:00,14:00-18:00";
    assert_eq!(due_with("2026-03-03T12:30", "1", MSK, lunch), "2026-03-03T14:30:00+03:00");
    assert_eq!(due_with("2026-03-03T09:00", "4", MSK, lunch), "2026-03-03T13:00:00+03:00");
    assert_eq!(due_with("2026-03-03T13:30", "0.5", MSK, lunch), "2026-03-03T14:30:00+03:00");
    assert_eq!(due_with("2026-03-03T13:00", "4", MSK, lunch), "2026-03-03T18:00:00+03:00");
    assert_eq!(due_with("2026-03-03T09:00", "9", MSK, lunch), "2026-03-04T10:00:00+03:00");
}

#[test]
fn fractional_hours() {
    assert_eq!(due("2026-03-03T09:00", "0.5"), "2026-03-03T09:30:00+03:00");
    assert_eq!(due("2026-03-03T09:00", "0.25"), "2026-03-03T09:15:00+03:00");
    assert_eq!(due("2026-03-03T17:45", "0.5"), "2026-03-04T09:15:00+03:00");
    assert_eq!(due("2026-03-03T09:00", "0.001"), "2026-03-03T09:00:03.600+03:00");
    assert_eq!(due("2026-03-03T09:00:00.5+03:00", "1"), "2026-03-03T10:00:00.500+03:00");
}

#[test]
fn from_kaliningrad_to_kamchatka() {
    let mut instants = Vec::new();
    for (i, zone) in RUSSIAN_ZONES.iter().enumerate() {
        let offset = i as i64 + 2;
        let start = parse_instant("2026-03-03T09:00", *zone).unwrap();
        let end = add_working_time(start, Duration::hours(3), *zone, &WorkingHours::default(), cal());
        assert_eq!(format_in_zone(end, *zone), format!("2026-03-03T12:00:00+{offset:02}:00"), "{zone}");
        assert_eq!(end, Utc.with_ymd_and_hms(2026, 3, 3, 12, 0, 0).unwrap() - Duration::hours(offset));
        instants.push(end);
        // The same instant, the same local answer, whatever the input's offset.
        let as_utc = format!("{}", start.format("%Y-%m-%dT%H:%M:%SZ"));
        assert_eq!(due_with(&as_utc, "3", *zone, "09:00-18:00"), format!("2026-03-03T12:00:00+{offset:02}:00"));
    }
    instants.dedup();
    assert_eq!(instants.len(), 11);
    // The New Year rule holds in every zone's own local time.
    assert_eq!(
        due_with("2026-12-30T17:00", "9", chrono_tz::Asia::Kamchatka, "09:00-18:00"),
        "2027-01-11T17:00:00+12:00"
    );
    assert_eq!(
        due_with("2026-12-30T17:00", "9", chrono_tz::Europe::Kaliningrad, "09:00-18:00"),
        "2027-01-11T17:00:00+02:00"
    );
}

#[test]
fn the_same_instant_is_a_different_local_day_in_different_zones() {
    // 2026-03-06T20:00Z is Friday 23:00 in Moscow but Saturday 08:00 in Kamchatka.
    let t = Utc.with_ymd_and_hms(2026, 3, 6, 20, 0, 0).unwrap();
    let wh = WorkingHours::default();
    let msk = add_working_time(t, Duration::hours(1), MSK, &wh, cal());
    let kam = add_working_time(t, Duration::hours(1), chrono_tz::Asia::Kamchatka, &wh, cal());
    // Monday 9 March 2026 is off (8 March fell on a Sunday), so both go to Tuesday.
    assert_eq!(format_in_zone(msk, MSK), "2026-03-10T10:00:00+03:00");
    assert_eq!(format_in_zone(kam, chrono_tz::Asia::Kamchatka), "2026-03-10T10:00:00+12:00");
}

#[test]
fn outside_the_files_the_plain_rule_applies() {
    // 2030: 7 March (Thursday) is shortened, 8 March a holiday, 9–10 March a weekend.
    assert_eq!(due("2030-03-07T09:00", "8"), "2030-03-07T17:00:00+03:00");
    assert_eq!(due("2030-03-07T09:00", "9"), "2030-03-11T10:00:00+03:00");
    // Across the edge of the files: Friday 31 December 2027 is off by transfer, 2028 by the rule.
    assert_eq!(due("2027-12-30T17:00", "2"), "2028-01-10T10:00:00+03:00");
}

#[test]
fn zero_and_negative_amounts_give_the_start() {
    let wh = WorkingHours::default();
    for s in ["2026-03-03T10:00", "2026-03-03T22:00", "2026-03-07T12:00"] {
        let t = parse_instant(s, MSK).unwrap();
        assert_eq!(add_working_time(t, Duration::zero(), MSK, &wh, cal()), t);
        assert_eq!(add_working_time(t, Duration::hours(-3), MSK, &wh, cal()), t);
    }
    // Where counting would begin.
    let night = parse_instant("2026-03-06T22:00", MSK).unwrap();
    assert_eq!(format_in_zone(next_working_time(night, MSK, &wh, cal()), MSK), "2026-03-10T09:00:00+03:00");
    let inside = parse_instant("2026-03-03T10:00", MSK).unwrap();
    assert_eq!(next_working_time(inside, MSK, &wh, cal()), inside);
}

#[test]
fn working_time_between_instants() {
    let wh = WorkingHours::default();
    let a = parse_instant("2026-03-02T00:00", MSK).unwrap();
    let b = parse_instant("2026-03-09T00:00", MSK).unwrap();
    assert_eq!(working_time_between(a, b, MSK, &wh, cal()), Duration::hours(45));
    assert_eq!(working_time_between(b, a, MSK, &wh, cal()), Duration::hours(-45));
    assert_eq!(working_time_between(a, a, MSK, &wh, cal()), Duration::zero());
    let c = parse_instant("2026-03-03T10:30", MSK).unwrap();
    let d = parse_instant("2026-03-03T11:15", MSK).unwrap();
    assert_eq!(working_time_between(c, d, MSK, &wh, cal()), Duration::minutes(45));
}

#[test]
fn is_working_time_has_closed_starts_and_open_ends() {
    let wh = WorkingHours::default();
    let w = |s: &str| is_working_time(parse_instant(s, MSK).unwrap(), MSK, &wh, cal());
    assert!(w("2026-03-03T09:00"));
    assert!(w("2026-03-03T17:59:59"));
    assert!(!w("2026-03-03T18:00"));
    assert!(!w("2026-03-07T12:00")); // Saturday
    assert!(!w("2025-03-07T17:30")); // shortened day
}

#[test]
fn huge_amounts_stay_fast_and_consistent() {
    let wh = WorkingHours::default();
    let s = parse_instant("2026-03-03T09:00", MSK).unwrap();
    let far = add_working_time(s, parse_hours_amount("1000000").unwrap(), MSK, &wh, cal());
    assert!(far.format("%Y").to_string().parse::<i32>().unwrap() > 2400);
    assert_eq!(working_time_between(s, far, MSK, &wh, cal()), Duration::hours(1_000_000));
    // Far past the periodic horizon: whole 400-year cycles are skipped, not walked.
    let huge = Duration::hours(24 * 365 * 20_000);
    let very_far = add_working_time(s, huge, MSK, &wh, cal());
    assert_eq!(working_time_between(s, very_far, MSK, &wh, cal()), huge);
    assert_eq!(add_working_time(s, Duration::MAX, MSK, &wh, cal()), DateTime::<Utc>::MAX_UTC);
}

// --- clock changes (not in Russia since 2014, but not assumed away) --------------------------

fn berlin_weekends() -> ProductionCalendar {
    // Clocks change on Sundays; make those Sundays working so the change falls in working time.
    let text = "year = 2026\nsource = \"test\"\nholidays = []\nworking_weekends = [\"2026-03-29\", \"2026-10-25\"]\n";
    ProductionCalendar::parse(&[("berlin.toml", text)]).unwrap()
}

#[test]
fn wall_clock_intervals_across_a_clock_change() {
    let berlin = chrono_tz::Europe::Berlin;
    let cal = berlin_weekends();
    let wh = WorkingHours::parse("01:00-04:00").unwrap();
    let on = |s: &str| parse_instant(s, berlin).unwrap();
    // 29 March: 02:00 CET jumps to 03:00 CEST, the interval is two real hours.
    let (a, b) = (on("2026-03-29T00:00"), on("2026-03-30T00:00"));
    assert_eq!(working_time_between(a, b, berlin, &wh, &cal), Duration::hours(2));
    let end = add_working_time(on("2026-03-29T01:00"), Duration::minutes(90), berlin, &wh, &cal);
    assert_eq!(format_in_zone(end, berlin), "2026-03-29T03:30:00+02:00");
    // 25 October: 03:00 CEST goes back to 02:00 CET, the interval is four real hours.
    let (a, b) = (on("2026-10-25T00:00"), on("2026-10-26T00:00"));
    assert_eq!(working_time_between(a, b, berlin, &wh, &cal), Duration::hours(4));
    let end = add_working_time(on("2026-10-25T01:00"), Duration::hours(3), berlin, &wh, &cal);
    assert_eq!(format_in_zone(end, berlin), "2026-10-25T03:00:00+01:00");
    // A local time the clocks skip or repeat is refused as --from.
    assert!(parse_instant("2026-03-29T02:30", berlin).is_err());
    assert!(parse_instant("2026-10-25T02:30", berlin).is_err());
    assert!(parse_instant("2026-10-25T02:30+01:00", berlin).is_ok());
}

// --- parsing and validation -------------------------------------------------------------------

#[test]
fn working_hours_parse_and_print() {
    assert_eq!(WorkingHours::default().to_string(), "09:00-18:00");
    assert_eq!(WorkingHours::parse("09:00-18:00").unwrap(), WorkingHours::default());
    let lunch = WorkingHours::parse("09:00-13:00, 14:00-18:00").unwrap();
    assert_eq!(lunch.to_string(), "09:00-13:00,14:00-18:00");
    assert_eq!(lunch.daily_total(), Duration::hours(8));
    assert_eq!(lunch.shortened_intervals().collect::<Vec<_>>(), vec![(540, 780), (840, 1020)]);
    assert_eq!(WorkingHours::parse("22:00-24:00").unwrap().to_string(), "22:00-24:00");
    let from_json: WorkingHours = serde_json_like("\"08:00-17:00\"");
    assert_eq!(from_json.to_string(), "08:00-17:00");
}

fn serde_json_like(text: &str) -> WorkingHours {
    // A TOML document with one string is enough to exercise the serde form.
    #[derive(serde::Deserialize)]
    struct Doc {
        hours: WorkingHours,
    }
    toml::from_str::<Doc>(&format!("hours = {text}")).unwrap().hours
}

#[test]
fn bad_working_hours_are_refused_with_a_reason() {
    for (input, needle) in [
        ("", "no interval"),
        ("13:00-09:00", "does not start before it ends"),
        ("09:00-09:00", "does not start before it ends"),
        ("09:00-13:00,12:00-18:00", "overlap"),
        ("14:00-18:00,09:00-13:00", "ascending order"),
        ("25:00-26:00", "not a time"),
        ("09:00-24:30", "not a time"),
        ("9-18", "not a time"),
        ("09:00", "not an interval"),
        ("09:00-18:00,", "not an interval"),
    ] {
        let e = WorkingHours::parse(input).unwrap_err();
        assert!(matches!(e, CalendarError::WorkingHours { .. }), "{input}: {e}");
        assert!(e.to_string().contains(needle), "{input}: {e}");
    }
}

fn file_error(text: &str) -> (Option<usize>, String) {
    match ProductionCalendar::parse(&[("ru-2026.toml", text)]).unwrap_err() {
        CalendarError::File { file, line, problem } => {
            assert_eq!(file, "ru-2026.toml");
            (line, problem.to_string())
        }
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn bad_calendar_files_name_the_file_and_line() {
    let head = "year = 2026\nsource = \"test\"\n";
    let cases = [
        ("holidays = [\"2026-01-01\"]\ntransferred_days_off = [\n  \"2026-01-10\",\n]\n", 5, "not Mon–Fri"),
        ("holidays = []\nworking_weekends = [\"2026-01-12\"]\n", 4, "not Sat/Sun"),
        ("holidays = [\"2026-01-09\"]\ntransferred_days_off = [\"2026-01-09\"]\n", 4, "in both"),
        ("holidays = [\"2027-01-01\"]\n", 3, "outside the file's year"),
        ("holidays = [\"2026-01-01\"]\nshort_days = [\"2026-01-01\"]\n", 4, "not a working day"),
        ("holidays = [\"2026-01-01\"]\nshort_days = [\"2026-01-03\"]\n", 4, "not a working day"),
        ("holidays = [\"2026-13-01\"]\n", 3, "not a date"),
        ("holidays = [\"2026-01-01\", \"2026-01-01\"]\n", 3, "listed twice"),
        ("holidays = [2026-01-01T10:00:00]\n", 3, "without a time"),
        ("holidays = [1]\n", 3, "must hold dates"),
        ("holidays = []\nextra = 1\n", 4, "unknown field"),
        ("holidays = [\n", 3, "unclosed array"),
    ];
    for (body, line, needle) in cases {
        let (l, message) = file_error(&format!("{head}{body}"));
        assert_eq!(l, Some(line), "{body}: {message}");
        assert!(message.contains(needle), "{body}: {message}");
    }
    let (l, message) = file_error("source = \"x\"\nholidays = []\n");
    assert!(message.contains("year"), "{l:?} {message}");
    let e = ProductionCalendar::parse(&[
        ("a.toml", "year = 2026\nsource = \"a\"\nholidays = []\n"),
        ("b.toml", "\nyear = 2026\nsource = \"b\"\nholidays = []\n"),
    ])
    .unwrap_err();
    assert_eq!(e.to_string(), "b.toml:2: year 2026 is given by more than one file");
}

#[test]
fn unquoted_toml_dates_are_accepted() {
    let text = "year = 2026\nsource = \"test\"\nholidays = [2026-01-01]\nshort_days = [2026-12-31]\n";
    let cal = ProductionCalendar::parse(&[("x.toml", text)]).unwrap();
    assert_eq!(cal.day_kind(date(2026, 1, 1)), DayKind::Off);
    assert_eq!(cal.day_kind(date(2026, 12, 31)), DayKind::Short);
    // A file covers its year only: the next year falls back to the plain rule.
    assert_eq!(cal.day_kind(date(2027, 1, 1)), DayKind::Off);
}

#[test]
fn instants_amounts_and_zones_parse() {
    let t = parse_instant("2026-03-03T09:00:00+03:00", MSK).unwrap();
    assert_eq!(t, Utc.with_ymd_and_hms(2026, 3, 3, 6, 0, 0).unwrap());
    assert_eq!(parse_instant("2026-03-03T06:00:00Z", MSK).unwrap(), t);
    assert_eq!(parse_instant("2026-03-03T06:00Z", MSK).unwrap(), t);
    assert_eq!(parse_instant("2026-03-03T09:00+03:00", chrono_tz::Asia::Omsk).unwrap(), t);
    assert_eq!(parse_instant("2026-03-03T09:00", MSK).unwrap(), t);
    assert_eq!(parse_instant("2026-03-03 09:00:00", MSK).unwrap(), t);
    assert_eq!(parse_instant("2026-03-03T09:00", chrono_tz::Asia::Kamchatka).unwrap(), t - Duration::hours(9));
    for bad in ["", "tomorrow", "2026-03-03", "2026-02-30T09:00"] {
        assert!(matches!(parse_instant(bad, MSK), Err(CalendarError::Instant { .. })), "{bad}");
    }
    assert_eq!(parse_zone("Asia/Kamchatka").unwrap(), chrono_tz::Asia::Kamchatka);
    assert!(parse_zone("Mars/Olympus").is_err());
    assert_eq!(format_in_zone(t, chrono_tz::UTC), "2026-03-03T06:00:00+00:00");
    assert_eq!(parse_hours_amount("9").unwrap(), Duration::hours(9));
    assert_eq!(parse_hours_amount("0.5").unwrap(), Duration::minutes(30));
}

// --- properties -------------------------------------------------------------------------------

/// Working hours in whole minutes: one to four ascending, non-overlapping intervals.
fn working_hours() -> impl Strategy<Value = WorkingHours> {
    prop::collection::vec((0u32..300, 1u32..400), 1..=4).prop_filter_map("fits in a day", |parts| {
        let mut at = 0;
        let mut intervals = Vec::new();
        for (i, (gap, len)) in parts.into_iter().enumerate() {
            let start = if i == 0 { gap * 3 } else { at + gap };
            at = start + len;
            intervals.push((start, at));
        }
        WorkingHours::from_minutes(&intervals).ok()
    })
}

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(RUSSIAN_ZONES.to_vec())
}

/// Instants from mid-2024 to mid-2028, so the plain rule and all three files are crossed.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (1_717_200_000i64..1_843_500_000, prop_oneof![Just(0u32), 0u32..1_000_000_000])
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
}

/// Up to ten eight-hour days, to the nanosecond.
fn amount() -> impl Strategy<Value = Duration> {
    prop_oneof![Just(0i64), 0i64..288_000_000_000_000].prop_map(Duration::nanoseconds)
}

/// The model: step minute by minute, counting the minutes whose local wall-clock time lies in a
/// working interval of a working day.
fn minute_model(start: DateTime<Utc>, minutes: i64, zone: Tz, hours: &WorkingHours) -> DateTime<Utc> {
    let working = |t: DateTime<Utc>| {
        let local = t.with_timezone(&zone);
        let minute = local.format("%H").to_string().parse::<u32>().unwrap() * 60
            + local.format("%M").to_string().parse::<u32>().unwrap();
        let intervals: Vec<(u32, u32)> = match cal().day_kind(local.date_naive()) {
            DayKind::Off => vec![],
            DayKind::Working => hours.intervals().collect(),
            DayKind::Short => hours.shortened_intervals().collect(),
        };
        intervals.iter().any(|&(a, b)| a <= minute && minute < b)
    };
    let (mut t, mut left) = (start, minutes);
    while left > 0 {
        if working(t) {
            left -= 1;
        }
        t += Duration::minutes(1);
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn between_inverts_add(s in instant(), d in amount(), z in zone(), h in working_hours()) {
        let end = add_working_time(s, d, z, &h, cal());
        prop_assert!(end >= s);
        prop_assert_eq!(working_time_between(s, end, z, &h, cal()), d);
    }

    #[test]
    fn add_is_additive(s in instant(), a in amount(), b in amount(), z in zone(), h in working_hours()) {
        let two_steps = add_working_time(add_working_time(s, a, z, &h, cal()), b, z, &h, cal());
        prop_assert_eq!(two_steps, add_working_time(s, a + b, z, &h, cal()));
    }

    #[test]
    fn add_is_monotonic(s in instant(), later in 0i64..400_000_000_000_000, d in amount(), more in amount(),
                        z in zone(), h in working_hours()) {
        let s2 = s + Duration::nanoseconds(later);
        prop_assert!(add_working_time(s, d, z, &h, cal()) <= add_working_time(s2, d, z, &h, cal()));
        prop_assert!(add_working_time(s, d, z, &h, cal()) <= add_working_time(s, d + more, z, &h, cal()));
    }

    #[test]
    fn add_never_ends_inside_non_working_time(s in instant(), d in amount(), z in zone(), h in working_hours()) {
        prop_assume!(d > Duration::zero());
        let end = add_working_time(s, d, z, &h, cal());
        // The last nanosecond before the deadline is working time: the deadline is inside or at the
        // end of a working interval, never in a break, a night or a day off.
        prop_assert!(is_working_time(end - Duration::nanoseconds(1), z, &h, cal()));
        prop_assert!(is_working_time(next_working_time(s, z, &h, cal()), z, &h, cal()));
    }

    #[test]
    fn between_is_additive(a in instant(), b in instant(), c in instant(), z in zone(), h in working_hours()) {
        let ab = working_time_between(a, b, z, &h, cal());
        let bc = working_time_between(b, c, z, &h, cal());
        prop_assert_eq!(ab + bc, working_time_between(a, c, z, &h, cal()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn add_agrees_with_the_minute_model(minute in 28_620_000i64..30_725_000, d in 0i64..1_500, z in zone(),
                                        h in working_hours()) {
        let s = DateTime::from_timestamp(minute * 60, 0).unwrap();
        prop_assert_eq!(add_working_time(s, Duration::minutes(d), z, &h, cal()), minute_model(s, d, z, &h));
    }
}

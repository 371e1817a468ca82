//! The `otklik` command line as a user runs it: help, configuration checks, migrations, accounts
//! and JSON Lines import, with one-line errors and non-zero exits on bad input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn otklik(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otklik"));
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).env("OTKLIK_LOG", "error");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("otklik.toml");
    std::fs::write(&p, format!("[database]\nurl = \"sqlite://{}\"\n", dir.join("db.sqlite").display())).unwrap();
    p
}

#[test]
fn every_command_answers_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["demo", "--help"],
        vec!["migrate", "--help"],
        vec!["import", "--help"],
        vec!["user", "add", "--help"],
        vec!["check-config", "--help"],
    ] {
        let out = otklik(&args, None, &[]);
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("Usage"), "{args:?}");
    }
}

#[test]
fn configuration_errors_are_one_line_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = config(dir.path());
    let out = otklik(&["check-config", "--config", good.to_str().unwrap()], None, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("configuration ok: 517 territories"), "{}", text(&out.stdout));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[database]\nurl = \"x\"\n[server]\nlisten = 1\n").unwrap();
    let out = otklik(&["check-config", "--config", bad.to_str().unwrap()], None, &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bad.toml:4:"), "{err}");

    // Reference files are checked too, naming the file and line.
    let refdir = dir.path().join("ref");
    std::fs::create_dir(&refdir).unwrap();
    for f in ["territories.toml", "organisations.toml", "taxonomy.toml"] {
        std::fs::copy(format!("{}/../../data/reference/{f}", env!("CARGO_MANIFEST_DIR")), refdir.join(f)).unwrap();
    }
    let orgs = std::fs::read_to_string(refdir.join("organisations.toml")).unwrap();
    std::fs::write(
        refdir.join("organisations.toml"),
        orgs.replacen("territory = \"lipetsk-oblast\"", "territory = \"atlantis\"", 1),
    )
    .unwrap();
    let withref = dir.path().join("withref.toml");
    std::fs::write(
        &withref,
        format!("[database]\nurl = \"sqlite://x\"\n[reference]\ndir = \"{}\"\n", refdir.display()),
    )
    .unwrap();
    let out = otklik(&["check-config", "--config", withref.to_str().unwrap()], None, &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("organisations.toml:") && err.contains("unknown territory `atlantis`"), "{err}");

    let out = otklik(&["check-config", "--config", "/nonexistent.toml"], None, &[]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).starts_with("otklik: /nonexistent.toml"));
}

#[test]
fn migrate_user_add_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let cfg = cfg.to_str().unwrap();
    let out = otklik(&["migrate", "--config", cfg], None, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = otklik(
        &[
            "user",
            "add",
            "--config",
            cfg,
            "--login",
            "ivanova",
            "--name",
            "Иванова",
            "--role",
            "regional_curator:lipetsk-oblast",
        ],
        Some("a long password\n"),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let user: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(user["grants"][0]["node"], "lipetsk-oblast");
    for (args, why) in
        [(vec!["--role", "boss"], "unknown role"), (vec!["--role", "org_head:nowhere"], "unknown organisation")]
    {
        let mut a = vec!["user", "add", "--config", cfg, "--login", "petrov", "--name", "П"];
        a.extend(args);
        let out = otklik(&a, Some("a long password\n"), &[]);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains(why), "{}", text(&out.stderr));
    }
    let out = otklik(
        &["user", "add", "--config", cfg, "--login", "petrov", "--name", "П", "--role", "admin"],
        None,
        &[("OTKLIK_PASSWORD", "short")],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("at least 8"));

    let lines = [
        r#"{"channel": "vk", "source": "club-adm-gryazi", "external_id": "1", "author": {"id": "a"}, "text": "яма", "published_at": "2026-03-02T05:55:00Z"}"#,
        r#"{"channel": "vk", "source": "club-adm-gryazi", "external_id": "1", "author": {"id": "a"}, "text": "яма", "published_at": "2026-03-02T05:55:00Z"}"#,
        "not json",
        "",
        r#"{"channel": "fax", "source": "s", "external_id": "2", "author": {"id": "a"}, "text": "t", "published_at": "2026-03-02T05:55:00Z"}"#,
        r#"{"channel": "ok", "source": "g", "external_id": "3", "author": {"id": "a"}, "text": "свет", "published_at": "2026-03-02T05:55:00Z", "territory": "yelets-city"}"#,
    ];
    let input = lines.join("\n") + "\n\u{0}\u{ff}\n";
    let out = otklik(&["import", "--config", cfg], Some(&input), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let line_nos: Vec<i64> = rows.iter().map(|r| r["line"].as_i64().unwrap()).collect();
    assert_eq!(line_nos, vec![1, 2, 3, 5, 6, 7], "one row per non-empty line, in order");
    assert_eq!(rows[0]["created"], true);
    assert_eq!((rows[1]["created"].as_bool(), &rows[1]["incident_id"]), (Some(false), &rows[0]["incident_id"]));
    assert!(rows[2]["error"].as_str().unwrap().starts_with("invalid JSON"));
    assert!(rows[3]["error"].as_str().unwrap().contains("fax"));
    assert_eq!(rows[4]["created"], true);
    assert!(rows[5]["error"].is_string());
    assert!(text(&out.stderr).contains("imported 3 line(s), 3 refused"), "{}", text(&out.stderr));
}

#[test]
fn classify_follows_the_contract() {
    let input = [
        r#"{"id": "m1", "text": "в Ельце на Коммунаров яма на яме", "channel": "vk", "source": "optional page or group name"}"#,
        r#"{"id": "m2", "text": "Продам гараж недорого, звоните"}"#,
        "{broken",
        r#"{"id": "m4", "text": ""}"#,
        r#"{"id": "m5", "text": "😡😡😡"}"#,
    ]
    .join("\n")
        + "\n";
    let out = otklik(&["classify"], Some(&input), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 5, "one line out per line in");
    let m1 = &rows[0];
    assert_eq!(m1["id"], "m1");
    assert_eq!((m1["kind"].as_str(), m1["category"].as_str()), (Some("complaint"), Some("roads")));
    assert_eq!((m1["region"].as_str(), m1["territory"].as_str()), (Some("Липецкая область"), Some("город Елец")));
    assert_eq!(m1["sentiment"], "negative");
    assert_eq!(m1["urgent"], false);
    for k in ["kind", "category", "territory"] {
        let c = m1["confidence"][k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c), "{k} {c}");
    }
    assert_eq!(
        (rows[1]["id"].as_str(), rows[1]["kind"].as_str(), rows[1]["category"].as_str()),
        (Some("m2"), Some("other"), Some("none"))
    );
    assert!(rows[2]["error"].is_string());
    assert_eq!(rows[3]["id"], "m4");
    assert_eq!(rows[4]["id"], "m5");
    assert_eq!(rows[4]["kind"], "other");
}

#[test]
fn nlp_eval_prints_the_report() {
    let data = format!("{}/../../data/corpus/heldout.jsonl", env!("CARGO_MANIFEST_DIR"));
    let out = otklik(&["nlp", "eval", "--data", &data], None, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for needle in ["macro-F1", "territory", "complaint", "roads"] {
        assert!(report.contains(needle), "{needle} missing from:\n{report}");
    }
    let out = otklik(&["nlp", "eval", "--data", "/nonexistent.jsonl"], None, &[]);
    assert!(!out.status.success());
    assert_eq!(text(&out.stderr).lines().count(), 1);
}

#[test]
fn due_follows_the_contract() {
    let due = |args: &[&str]| {
        let mut a = vec!["due"];
        a.extend_from_slice(args);
        otklik(&a, None, &[])
    };
    let cases: &[(&[&str], &str)] = &[
        // A Friday morning plus a working day ends that evening.
        (
            &["--from", "2026-03-06T09:00:00+03:00", "--working-hours", "9", "--zone", "Europe/Moscow"],
            "2026-03-06T18:00:00+03:00",
        ),
        // Over the New Year holidays, in Samara's offset.
        (
            &["--from", "2026-12-30T17:00:00+04:00", "--working-hours", "9", "--zone", "Europe/Samara"],
            "2027-01-11T17:00:00+04:00",
        ),
        // A shortened pre-holiday day (7 March 2025 ends at 17:00).
        (
            &["--from", "2025-03-07T16:30:00+03:00", "--working-hours", "1", "--zone", "Europe/Moscow"],
            "2025-03-10T09:30:00+03:00",
        ),
        // Fractions and a lunch break.
        (
            &[
                "--from",
                "2026-03-03T12:30:00+12:00",
                "--working-hours",
                "1.5",
                "--zone",
                "Asia/Kamchatka",
                "--hours",
                "09:00-13:00,14:00-18:00",
            ],
            "2026-03-03T15:00:00+12:00",
        ),
    ];
    for (args, expected) in cases {
        let out = due(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), format!("{expected}\n"), "{args:?}");
    }
    for bad in [
        vec!["--from", "yesterday", "--working-hours", "9", "--zone", "Europe/Moscow"],
        vec!["--from", "2026-03-06T09:00:00+03:00", "--working-hours", "nine", "--zone", "Europe/Moscow"],
        vec!["--from", "2026-03-06T09:00:00+03:00", "--working-hours", "9", "--zone", "Mars/Olympus"],
        vec![
            "--from",
            "2026-03-06T09:00:00+03:00",
            "--working-hours",
            "9",
            "--zone",
            "Europe/Moscow",
            "--hours",
            "18:00-09:00",
        ],
        vec![
            "--from",
            "2026-03-06T09:00:00+03:00",
            "--working-hours",
            "9",
            "--zone",
            "Europe/Moscow",
            "--hours",
            "09:00-13:00,12:00-18:00",
        ],
    ] {
        let out = due(&bad);
        assert!(!out.status.success(), "{bad:?}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
        assert!(err.starts_with("otklik: "), "{err}");
    }
}

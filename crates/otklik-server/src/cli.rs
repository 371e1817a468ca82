//! The `otklik` command line: serve, demo, migrate, import, user add, check-config, reference reload.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use otklik_core::model::{Grant, NewMessage, NewUser, Role};
use otklik_core::workflow::{IntakeHints, SystemClock};

use crate::config::Config;
use crate::{api, auth, demo, setup};

#[derive(Debug, Parser)]
#[command(
    name = "otklik",
    version,
    about = "Otklik: citizen feedback incident management for regional and municipal control centres"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the production server.
    Serve(ConfigArg),
    /// Run a self-contained demo: embedded database, demo data and accounts, a stream of citizen messages.
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Folder for the embedded database.
        #[arg(long, default_value = "./otklik-data")]
        data: PathBuf,
        /// Seconds between simulated messages (on average).
        #[arg(long, default_value_t = 3.0)]
        interval: f64,
    },
    /// Create or upgrade the database schema and load reference data into an empty database.
    Migrate(ConfigArg),
    /// Take messages from JSON Lines (one message object per line) through intake; prints one result line each.
    Import {
        #[command(flatten)]
        config: ConfigArg,
        /// The JSON Lines file; `-` for standard input.
        #[arg(long, default_value = "-")]
        file: String,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCmd,
    },
    /// Validate the configuration and the reference data it names, without starting anything.
    CheckConfig(ConfigArg),
    /// Text analysis as a filter: JSON Lines of messages in, one classification line out per line.
    Classify {
        /// A model trained by `otklik nlp train`; the built-in model when absent.
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// The instant at which H working hours have passed after INSTANT under the Russian production
    /// calendar (weekends, holidays, transferred days, shortened pre-holiday days), in ZONE.
    Due {
        /// RFC 3339 (`2026-03-03T09:00:00+03:00`), or a local time (`2026-03-03T09:00`) read in --zone.
        #[arg(long)]
        from: String,
        /// Working hours to add; fractions allowed (`0.5`).
        #[arg(long = "working-hours")]
        working_hours: String,
        /// IANA time zone, e.g. `Europe/Samara`.
        #[arg(long)]
        zone: String,
        /// Daily working intervals.
        #[arg(long, default_value = "09:00-18:00")]
        hours: String,
    },
    /// Deadline maintenance.
    Deadlines {
        #[command(subcommand)]
        command: DeadlinesCmd,
    },
    /// Reference data maintenance.
    Reference {
        #[command(subcommand)]
        command: ReferenceCmd,
    },
    /// Train and evaluate the text-analysis model.
    Nlp {
        #[command(subcommand)]
        command: NlpCmd,
    },
}

#[derive(Debug, Subcommand)]
enum DeadlinesCmd {
    /// Recompute the due instants of every unfinished incident (after the production calendar or
    /// the deadline policies changed).
    Recompute(ConfigArg),
}

#[derive(Debug, Subcommand)]
enum ReferenceCmd {
    /// Re-read the configured reference folder (and calendar folder) and, only if valid as a
    /// whole, replace the stored reference data with it and recompute deadlines; a refused set
    /// changes nothing. A running server picks the change up on SIGHUP or
    /// `POST /api/v1/reference/reload`.
    Reload(ConfigArg),
}

#[derive(Debug, Subcommand)]
enum NlpCmd {
    /// Train the kind, category, tonality and urgency models (deterministic for a given seed).
    Train {
        /// Labelled JSON Lines files.
        #[arg(long = "data", default_values = ["data/corpus/train-a.jsonl", "data/corpus/train-b.jsonl", "data/corpus/train-c.jsonl", "data/corpus/train-d.jsonl", "data/corpus/train-e.jsonl", "data/corpus/train-f.jsonl"])]
        data: Vec<PathBuf>,
        /// Also learn from the corrections operators made in the deployment of this configuration.
        #[arg(long, requires = "config")]
        with_corrections: bool,
        #[arg(long, short)]
        config: Option<PathBuf>,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Where to write the model (set `[analysis] model` in the configuration to use it).
        #[arg(long, default_value = "data/models/nlp-v1.bin")]
        out: PathBuf,
    },
    /// Quality report on a labelled JSON Lines file: per-class precision, recall and F1, confusion
    /// matrices, macro-F1, territory accuracy and throughput.
    Eval {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        model: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ConfigArg {
    /// The configuration file (TOML).
    #[arg(long, short)]
    config: PathBuf,
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Add an account. The password is read from standard input (first line) or OTKLIK_PASSWORD.
    Add {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        login: String,
        /// Full name shown in the console.
        #[arg(long)]
        name: String,
        /// A role and its node, e.g. `admin`, `regional_curator:lipetsk-oblast`, `org_executor:adm-gryazinsky`;
        /// repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
}

/// Runs the command line; every failure is one line on stderr and a non-zero status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("otklik: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otklik: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OTKLIK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Parses `role[:node]`.
pub fn parse_grant(s: &str) -> anyhow::Result<Grant> {
    let (role, node) = match s.split_once(':') {
        Some((r, n)) => (r, Some(n.to_string())),
        None => (s, None),
    };
    let role = Role::parse(role).with_context(|| {
        let all: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role `{role}` (one of {})", all.join(", "))
    })?;
    Ok(Grant { role, node })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Cmd::Serve(c) => {
            let config = Config::load(&c.config)?;
            let state = setup::state(&config, false).await?;
            crate::app::spawn_deadline_sweeper(state.workflow.clone(), std::time::Duration::from_secs(30));
            crate::outbox::spawn_outbox(
                state.workflow.clone(),
                state.channels.clone(),
                std::time::Duration::from_secs(5),
            );
            crate::channels::spawn_pollers(state.workflow.clone(), state.channels.clone());
            crate::reload::spawn_sighup(state.clone());
            if let Some(email) = config.notifications.email.clone() {
                crate::email::spawn(state.workflow.store().clone(), crate::email::Mailer::new(email)?);
            }
            if let (Some(url), Some(secret)) =
                (config.notifications.webhook_url.clone(), config.notifications.webhook_secret.clone())
            {
                crate::webhook::spawn(state.workflow.store().clone(), url, secret);
            }
            let listener = tokio::net::TcpListener::bind(config.server.addr)
                .await
                .with_context(|| format!("cannot listen on {}", config.server.addr))?;
            tracing::info!(addr = %config.server.addr, "otklik serving");
            crate::app::serve(listener, state).await?;
            Ok(())
        }
        Cmd::Demo { addr, data, interval } => demo::run(addr, &data, interval).await,
        Cmd::Migrate(c) => {
            let config = Config::load(&c.config)?;
            let reference = setup::reference_for(&config)?;
            setup::open_store(&config.database.url, &reference).await?;
            eprintln!("otklik: database is up to date");
            Ok(())
        }
        Cmd::CheckConfig(c) => {
            let config = Config::load(&c.config)?;
            let reference = setup::reference_for(&config)?;
            crate::channels::Channels::build(&config.channels).map_err(|e| anyhow::anyhow!("[[channels]]: {e}"))?;
            if let Some(email) = config.notifications.email.clone() {
                crate::email::Mailer::new(email)?;
            }
            if let Some(dir) = &config.reference.calendar_dir {
                let files = crate::reload::read_calendar_dir(dir)?;
                otklik_core::reload::calendar_rows(&files, chrono::Utc::now())?;
            }
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "configuration ok: {} territories, {} organisations, {} categories, {} sources, {} channel sources",
                reference.territories.len(),
                reference.organisations.len(),
                reference.categories.len(),
                reference.sources.len(),
                config.channels.len()
            )?;
            Ok(())
        }
        Cmd::Import { config, file } => import(&config.config, &file).await,
        Cmd::Due { from, working_hours, zone, hours } => {
            use otklik_core::calendar;
            let zone = calendar::parse_zone(&zone)?;
            let start = calendar::parse_instant(&from, zone)?;
            let amount = calendar::parse_hours_amount(&working_hours)?;
            let hours = calendar::WorkingHours::parse(&hours)?;
            let due = calendar::add_working_time(start, amount, zone, &hours, calendar::ProductionCalendar::russia());
            writeln!(std::io::stdout().lock(), "{}", calendar::format_in_zone(due, zone))?;
            Ok(())
        }
        Cmd::Deadlines { command: DeadlinesCmd::Recompute(c) } => {
            let config = Config::load(&c.config)?;
            let reference = setup::reference_for(&config)?;
            let store = setup::open_store(&config.database.url, &reference).await?;
            let wf = setup::workflow(store, Arc::new(SystemClock), None).await?;
            let started = std::time::Instant::now();
            let n = wf.recompute_deadlines(crate::reload::RECOMPUTE_BATCH).await?;
            eprintln!(
                "otklik: recomputed the deadlines of {n} incident(s) in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Cmd::Reference { command: ReferenceCmd::Reload(c) } => {
            let config = Config::load(&c.config)?;
            let sources = crate::reload::ReferenceSources::of(&config);
            // Validate the files before touching the database.
            let read = crate::reload::read(&sources)?;
            let store = setup::open_store(&config.database.url, &read.data).await?;
            let wf = setup::workflow(store, Arc::new(SystemClock), None).await?;
            let report = wf.replace_reference(&read.data, read.calendar.as_deref()).await?;
            let n = wf.recompute_deadlines(crate::reload::RECOMPUTE_BATCH).await?;
            eprintln!(
                "otklik: reference data replaced ({} territories, {} organisations, {} categories, {} sources, \
                 {} routing rules, {} deadline policies{}); deadlines of {n} incident(s) moved",
                report.territories,
                report.organisations,
                report.categories,
                report.sources,
                report.routing_rules,
                report.deadline_policies,
                report.calendar_years.map(|n| format!(", {n} stored calendar years")).unwrap_or_default(),
            );
            Ok(())
        }
        Cmd::Classify { model } => {
            let analyzer = crate::nlp::analyzer(model.as_deref(), &crate::refdata::builtin()?)?;
            crate::nlp::classify(&analyzer)
        }
        Cmd::Nlp { command: NlpCmd::Eval { data, model } } => {
            let analyzer = crate::nlp::analyzer(model.as_deref(), &crate::refdata::builtin()?)?;
            let report = crate::nlp::eval(&analyzer, &data)?;
            write!(std::io::stdout().lock(), "{report}")?;
            Ok(())
        }
        Cmd::Nlp { command: NlpCmd::Train { data, with_corrections, config, seed, out } } => {
            let (reference, store) = match (&config, with_corrections) {
                (Some(c), true) => {
                    let config = Config::load(c)?;
                    let reference = setup::reference_for(&config)?;
                    let store = setup::open_store(&config.database.url, &reference).await?;
                    (reference, Some(store as Arc<dyn otklik_core::Store>))
                }
                _ => (crate::refdata::builtin()?, None),
            };
            let summary = crate::nlp::train(&data, store, &reference, seed, &out).await?;
            eprintln!("otklik: {summary}");
            Ok(())
        }
        Cmd::User { command: UserCmd::Add { config, login, name, roles } } => {
            let config = Config::load(&config.config)?;
            let grants = roles.iter().map(|r| parse_grant(r)).collect::<anyhow::Result<Vec<_>>>()?;
            let password = match std::env::var("OTKLIK_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim_end_matches(['\n', '\r']).to_string()
                }
            };
            if password.chars().count() < api::MIN_PASSWORD {
                bail!("a password needs at least {} characters", api::MIN_PASSWORD);
            }
            api::validate_login(&login)?;
            let reference = setup::reference_for(&config)?;
            let store = setup::open_store(&config.database.url, &reference).await?;
            let wf = setup::workflow(store.clone(), Arc::new(SystemClock), None).await?;
            api::validate_grants(&grants, &wf.catalog())?;
            let hash = auth::hash_password(&password).map_err(|e| anyhow::anyhow!(e.message))?;
            let user = wf
                .store()
                .create_user(&NewUser { login, display_name: name, password_hash: Some(hash), grants }, wf.now())
                .await?;
            writeln!(std::io::stdout().lock(), "{}", serde_json::to_string(&user)?)?;
            Ok(())
        }
    }
}

/// One result line of `import`.
#[derive(Debug, serde::Serialize)]
struct ImportLine {
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    incident_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

async fn import(config: &std::path::Path, file: &str) -> anyhow::Result<()> {
    let config = Config::load(config)?;
    let reference = setup::reference_for(&config)?;
    let store = setup::open_store(&config.database.url, &reference).await?;
    let analyzer = crate::nlp::analyzer(config.analysis.model.as_deref(), &reference)?;
    let wf = setup::workflow(store, Arc::new(SystemClock), Some(analyzer)).await?;
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(file).with_context(|| format!("cannot open {file}"))?))
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut ok, mut failed) = (0usize, 0usize);
    for (i, line) in reader.split(b'\n').enumerate() {
        let n = i + 1;
        let bytes = line?;
        let result = async {
            let text = std::str::from_utf8(&bytes).map_err(|_| "the line is not valid UTF-8".to_string())?;
            if text.trim().is_empty() {
                return Ok(None);
            }
            let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
            let mut msg: NewMessage =
                serde_json::from_value(value.clone()).map_err(|e| format!("invalid message: {e}"))?;
            let hints: IntakeHints =
                serde_json::from_value(value.clone()).map_err(|e| format!("invalid hints: {e}"))?;
            if msg.raw.is_null() {
                msg.raw = value;
            }
            wf.ingest(&msg, &hints).await.map(Some).map_err(|e| e.to_string())
        }
        .await;
        let row = match result {
            Ok(None) => continue,
            Ok(Some(o)) => {
                ok += 1;
                ImportLine {
                    line: n,
                    incident_id: Some(o.incident_id),
                    message_id: Some(o.message_id),
                    created: Some(o.created),
                    error: None,
                }
            }
            Err(e) => {
                failed += 1;
                ImportLine { line: n, incident_id: None, message_id: None, created: None, error: Some(e) }
            }
        };
        writeln!(out, "{}", serde_json::to_string(&row)?)?;
    }
    out.flush()?;
    eprintln!("otklik: imported {ok} line(s), {failed} refused");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse() {
        assert_eq!(parse_grant("admin").unwrap(), Grant { role: Role::Admin, node: None });
        assert_eq!(
            parse_grant("org_executor:adm-gryazinsky").unwrap(),
            Grant { role: Role::OrgExecutor, node: Some("adm-gryazinsky".into()) }
        );
        assert!(parse_grant("boss:x").unwrap_err().to_string().contains("unknown role"));
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

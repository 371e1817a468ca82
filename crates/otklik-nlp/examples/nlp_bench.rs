//! Benchmark of the text analysis on one thread: model load time, messages per second of the
//! whole analysis (and of the `classify` stream with JSON), and resident memory.
//!
//! `cargo run --release -p otklik-nlp --example nlp_bench`
#![allow(clippy::print_stdout)]

#[path = "common/refdata.rs"]
mod refdata;

use std::io::BufReader;
use std::time::Instant;

/// Resident set size in MB from /proc (Linux); None elsewhere.
fn rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut data = vec![];
    for f in ["train-a.jsonl", "train-b.jsonl", "heldout.jsonl"] {
        data.extend(otklik_nlp::read_corpus(BufReader::new(std::fs::File::open(format!("{root}/data/corpus/{f}"))?))?);
    }
    let reference = refdata::reference();
    let start = Instant::now();
    let analyzer = otklik_nlp::Analyzer::builtin(&reference)?;
    let load = start.elapsed();
    println!("model load (artefact + gazetteer): {:.1} ms", load.as_secs_f64() * 1000.0);

    let rounds = 10;
    let start = Instant::now();
    let mut n = 0usize;
    for _ in 0..rounds {
        for m in &data {
            let a = analyzer.analyze(&m.text, m.channel.as_deref(), m.source.as_deref());
            n += usize::from(a.urgent);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let total = data.len() * rounds;
    println!(
        "analyze: {total} messages in {secs:.2} s = {:.0} messages/s (one thread; {n} urgent)",
        total as f64 / secs
    );

    let mut input = Vec::new();
    for m in &data {
        serde_json::to_writer(
            &mut input,
            &serde_json::json!({"id": m.id, "text": m.text, "channel": m.channel, "source": m.source}),
        )?;
        input.push(b'\n');
    }
    let start = Instant::now();
    let mut lines = 0;
    for _ in 0..rounds {
        let stats = otklik_nlp::classify_stream(&input[..], std::io::sink(), &analyzer)?;
        lines += stats.lines;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("classify stream (JSON in/out): {lines} lines in {secs:.2} s = {:.0} lines/s", lines as f64 / secs);
    if let Some(rss) = rss_mb() {
        println!("resident memory: {rss:.0} MB");
    }
    Ok(())
}

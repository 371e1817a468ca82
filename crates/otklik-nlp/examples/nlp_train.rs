//! Trains the text-analysis model from corpus files and writes the artefact.
//!
//! `cargo run --release -p otklik-nlp --example nlp_train -- [--seed N] [--out FILE] [CORPUS.jsonl…]`
//! (defaults: seed 42, `data/models/nlp-v1.bin`, and `otklik_nlp::TRAINING_FILES`:
//! `data/corpus/train-a.jsonl` … `train-f.jsonl`).
#![allow(clippy::print_stdout)]

use std::io::BufReader;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut seed = 42u64;
    let mut out = format!("{root}/data/models/nlp-v1.bin");
    let mut files = vec![];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seed" => seed = args.next().ok_or("--seed needs a value")?.parse()?,
            "--out" => out = args.next().ok_or("--out needs a value")?,
            _ => files.push(a),
        }
    }
    if files.is_empty() {
        files = otklik_nlp::TRAINING_FILES.iter().map(|f| format!("{root}/{f}")).collect();
    }
    let mut examples = vec![];
    for f in &files {
        examples.extend(otklik_nlp::read_corpus(BufReader::new(std::fs::File::open(f)?))?);
    }
    let start = std::time::Instant::now();
    let model = otklik_nlp::train(&examples, seed);
    let bytes = model.to_bytes();
    std::fs::write(&out, &bytes)?;
    println!(
        "trained on {} examples in {:.1} s (seed {seed}); wrote {} bytes to {out}",
        examples.len(),
        start.elapsed().as_secs_f64(),
        bytes.len()
    );
    Ok(())
}

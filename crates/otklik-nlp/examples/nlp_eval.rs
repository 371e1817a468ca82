//! Prints the quality report of the builtin model on a labelled JSON Lines file.
//!
//! `cargo run --release -p otklik-nlp --example nlp_eval -- data/corpus/heldout.jsonl`
#![allow(clippy::print_stdout)]

#[path = "common/refdata.rs"]
mod refdata;

use std::io::BufReader;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: nlp_eval FILE.jsonl")?;
    let data = otklik_nlp::read_corpus(BufReader::new(std::fs::File::open(path)?))?;
    let analyzer = otklik_nlp::Analyzer::builtin(&refdata::reference())?;
    print!("{}", otklik_nlp::evaluate(&analyzer, &data));
    Ok(())
}

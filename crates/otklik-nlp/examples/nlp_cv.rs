//! K-fold cross-validation on the training files, for choosing settings without the held-out set.
//!
//! `cargo run --release -p otklik-nlp --example nlp_cv -- [--folds K] [--bits B] [--epochs E] [--lr LR] [--l2 L2]`
#![allow(clippy::print_stdout)]

#[path = "common/refdata.rs"]
mod refdata;

use std::io::BufReader;

use otklik_nlp::{Analyzer, Model, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut cfg = TrainConfig::default();
    let mut folds = 5usize;
    let mut show_errors = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or("missing value");
        match a.as_str() {
            "--folds" => folds = val()?.parse()?,
            "--bits" => cfg.bits = val()?.parse()?,
            "--epochs" => {
                let e = val()?.parse()?;
                for c in [&mut cfg.kind, &mut cfg.category, &mut cfg.sentiment, &mut cfg.urgent] {
                    c.epochs = e;
                }
            }
            "--lr" => {
                let e = val()?.parse()?;
                for c in [&mut cfg.kind, &mut cfg.category, &mut cfg.sentiment, &mut cfg.urgent] {
                    c.lr = e;
                }
            }
            "--l2" => {
                let e = val()?.parse()?;
                for c in [&mut cfg.kind, &mut cfg.category, &mut cfg.sentiment, &mut cfg.urgent] {
                    c.l2 = e;
                }
            }
            "--no-balance" => {
                for c in [&mut cfg.kind, &mut cfg.category, &mut cfg.sentiment, &mut cfg.urgent] {
                    c.balance = false;
                }
            }
            "--errors" => show_errors = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut data = vec![];
    for f in ["train-a.jsonl", "train-b.jsonl"] {
        let path = format!("{root}/data/corpus/{f}");
        data.extend(otklik_nlp::read_corpus(BufReader::new(std::fs::File::open(path)?))?);
    }
    let reference = refdata::reference();
    let mut predictions = vec![None; data.len()];
    for k in 0..folds {
        let train: Vec<_> = data.iter().enumerate().filter(|(i, _)| i % folds != k).map(|(_, m)| m.clone()).collect();
        let model = otklik_nlp::train_with(&train, &cfg, 7);
        let analyzer = Analyzer::from_model(Model::from_bytes(&model.to_bytes())?, &reference);
        for (i, m) in data.iter().enumerate().filter(|(i, _)| i % folds == k) {
            predictions[i] = Some(analyzer.analyze(&m.text, m.channel.as_deref(), m.source.as_deref()));
        }
    }
    let predictions: Vec<_> = predictions.into_iter().map(|p| p.expect("every fold predicted")).collect();
    if show_errors {
        for (m, p) in data.iter().zip(&predictions) {
            if m.kind.as_deref() != Some("other")
                && (m.region.as_deref() != Some(&p.region) || m.territory.as_deref() != Some(&p.territory))
            {
                println!(
                    "TERR want {:?}/{:?} got {:?}/{:?} | {} | src {:?}",
                    m.region.as_deref().unwrap_or(""),
                    m.territory.as_deref().unwrap_or(""),
                    p.region,
                    p.territory,
                    m.text,
                    m.source
                );
            }
        }
    }
    println!("{cfg:?}");
    println!("{}", otklik_nlp::eval::score(&data, &predictions, 0.0));
    Ok(())
}

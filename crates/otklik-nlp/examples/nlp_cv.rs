//! K-fold cross-validation on the training files, for choosing settings without the held-out set.
//!
//! `cargo run --release -p otklik-nlp --example nlp_cv -- [--folds K] [--bits B] [--epochs E] [--lr LR] [--l2 L2]
//! [--other-bias B] [--question-bias B] [--runs N] [--average] [--no-balance] [--model kind|category|sentiment|urgent] [--seed S] [--train-c FILE] [--train-d FILE] [--no-d] [--no-e] [--e-train-only] [--by-file] [--errors] [--kind-errors]`
//!
//! `--model M` makes the following `--epochs/--lr/--l2/--decay/--average` apply to model M only.
//! Reads `train-a.jsonl`, `train-b.jsonl` and, when present, `train-c.jsonl`, `train-d.jsonl` and
//! `train-e.jsonl` (a line of those that does not parse is reported and skipped, as the file may
//! still be being written). `--e-train-only` keeps train-e in every training fold and never tests
//! on it, so the scores of a–d with and without it (`--no-e`) compare directly.
#![allow(clippy::print_stdout)]

#[path = "common/refdata.rs"]
mod refdata;

use std::io::BufReader;

use otklik_nlp::linear::SgdConfig;
use otklik_nlp::{Analyzer, LabelledMessage, Model, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut cfg = TrainConfig::default();
    let mut folds = 5usize;
    let mut seed = 7u64;
    let mut show_errors = false;
    // Folds are the files (train on two writers, test on the third): a harder, closer estimate
    // of how the model does on text by a writer it has not seen.
    let mut by_file = false;
    let mut show_kind_errors = false;
    let mut only: Option<String> = None;
    let mut train_c = format!("{root}/data/corpus/train-c.jsonl");
    let mut train_d = Some(format!("{root}/data/corpus/train-d.jsonl"));
    let mut train_e = Some(format!("{root}/data/corpus/train-e.jsonl"));
    let mut e_train_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or("missing value");
        let mut models: Vec<&mut SgdConfig> = match only.as_deref() {
            Some("kind") => vec![&mut cfg.kind],
            Some("category") => vec![&mut cfg.category],
            Some("sentiment") => vec![&mut cfg.sentiment],
            Some("urgent") => vec![&mut cfg.urgent],
            _ => vec![&mut cfg.kind, &mut cfg.category, &mut cfg.sentiment, &mut cfg.urgent],
        };
        match a.as_str() {
            "--folds" => folds = val()?.parse()?,
            "--seed" => seed = val()?.parse()?,
            "--model" => only = Some(val()?),
            // A snapshot of train-c, so runs compared with each other see the same data.
            "--train-c" => train_c = val()?,
            "--train-d" => train_d = Some(val()?),
            // Leave train-d out (to compare with the figures measured before it existed).
            "--no-d" => train_d = None,
            "--no-e" => train_e = None,
            "--e-train-only" => e_train_only = true,
            "--bits" => cfg.bits = val()?.parse()?,
            "--other-bias" => cfg.other_bias = val()?.parse()?,
            "--question-bias" => cfg.question_bias = val()?.parse()?,
            "--runs" => cfg.runs = val()?.parse()?,
            "--epochs" => {
                let e = val()?.parse()?;
                models.iter_mut().for_each(|c| c.epochs = e);
            }
            "--lr" => {
                let e = val()?.parse()?;
                models.iter_mut().for_each(|c| c.lr = e);
            }
            "--decay" => {
                let e = val()?.parse()?;
                models.iter_mut().for_each(|c| c.decay = e);
            }
            "--l2" => {
                let e = val()?.parse()?;
                models.iter_mut().for_each(|c| c.l2 = e);
            }
            "--average" => models.iter_mut().for_each(|c| c.average = true),
            "--no-average" => models.iter_mut().for_each(|c| c.average = false),
            "--no-balance" => models.iter_mut().for_each(|c| c.balance = false),
            "--errors" => show_errors = true,
            "--by-file" => by_file = true,
            "--kind-errors" => show_kind_errors = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut data = vec![];
    let mut file_of = vec![];
    for (n, f) in ["train-a.jsonl", "train-b.jsonl"].iter().enumerate() {
        let path = format!("{root}/data/corpus/{f}");
        data.extend(otklik_nlp::read_corpus(BufReader::new(std::fs::File::open(path)?))?);
        file_of.resize(data.len(), n);
    }
    for (n, path) in [Some(train_c), train_d, train_e].into_iter().enumerate() {
        let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else { continue };
        let name = ["train-c.jsonl", "train-d.jsonl", "train-e.jsonl"][n];
        let (mut good, mut bad) = (0, 0);
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            match serde_json::from_str::<LabelledMessage>(line) {
                Ok(m) => {
                    good += 1;
                    data.push(m);
                    file_of.push(2 + n);
                }
                Err(e) => {
                    bad += 1;
                    println!("{name} line {}: {e}", i + 1);
                }
            }
        }
        println!("{name}: {good} examples, {bad} unreadable lines skipped");
    }
    // With `--e-train-only`, train-e (file 4) gets a fold of its own that is never tested.
    const NEVER: usize = usize::MAX;
    let fold_of: Vec<usize> = (0..data.len())
        .map(|i| match () {
            _ if e_train_only && file_of[i] == 4 => NEVER,
            _ if by_file => file_of[i],
            _ => i % folds,
        })
        .collect();
    if by_file {
        folds = fold_of.iter().filter(|&&f| f != NEVER).max().map_or(1, |m| m + 1);
    }
    let tested: Vec<usize> = (0..data.len()).filter(|&i| fold_of[i] != NEVER).collect();
    let reference = refdata::reference();
    let mut predictions = vec![None; data.len()];
    for k in (0..folds).filter(|k| fold_of.contains(k)) {
        let train: Vec<_> = data.iter().enumerate().filter(|(i, _)| fold_of[*i] != k).map(|(_, m)| m.clone()).collect();
        let model = otklik_nlp::train_with(&train, &cfg, seed);
        let analyzer = Analyzer::from_model(Model::from_bytes(&model.to_bytes())?, &reference);
        for (i, m) in data.iter().enumerate().filter(|(i, _)| fold_of[*i] == k) {
            predictions[i] = Some(analyzer.analyze(&m.text, m.channel.as_deref(), m.source.as_deref()));
        }
    }
    // Only the tested messages are scored.
    let data: Vec<LabelledMessage> = tested.iter().map(|&i| data[i].clone()).collect();
    let fold_of: Vec<usize> = tested.iter().map(|&i| fold_of[i]).collect();
    let predictions: Vec<_> = tested.iter().map(|&i| predictions[i].clone().expect("every fold predicted")).collect();
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
    if show_kind_errors {
        for (m, p) in data.iter().zip(&predictions) {
            let want = m.kind.as_deref().unwrap_or("");
            if want != p.kind.as_str() || m.category.as_deref() != Some(p.category.as_str()) {
                let (wc, pc) = (m.category.as_deref().unwrap_or(""), &p.category);
                println!("KIND want {want}/{wc} got {}/{pc} ({:.2}) | {}", p.kind.as_str(), p.confidence.kind, m.text);
            }
        }
    }
    println!("{cfg:?}");
    if by_file {
        // Each writer's file scored by the model trained on the others, and the mean over files.
        let mut mean = [0.0f64; 4];
        // A file left out (`--no-d`) is an empty fold: not scored, not in the mean.
        let tested_files = (0..folds).filter(|k| fold_of.contains(k)).count().max(1);
        for k in 0..folds {
            let idx: Vec<usize> = (0..data.len()).filter(|i| fold_of[*i] == k).collect();
            if idx.is_empty() {
                continue;
            }
            let d: Vec<_> = idx.iter().map(|&i| data[i].clone()).collect();
            let p: Vec<_> = idx.iter().map(|&i| predictions[i].clone()).collect();
            let r = otklik_nlp::eval::score(&d, &p, 0.0);
            println!(
                "FILE {} n={} kind={:.4} inc_bal={:.4} cat_f1={:.4} q_recall={:.4}",
                ["a", "b", "c", "d", "e"][k],
                d.len(),
                r.kind_accuracy,
                r.incident_balanced_accuracy,
                r.category_macro_f1,
                question_recall(&d, &p)
            );
            for (m, v) in mean.iter_mut().zip([
                r.kind_accuracy,
                r.incident_balanced_accuracy,
                r.category_macro_f1,
                question_recall(&d, &p),
            ]) {
                *m += v / tested_files as f64;
            }
        }
        println!("FILEMEAN kind={:.4} inc_bal={:.4} cat_f1={:.4} q_recall={:.4}", mean[0], mean[1], mean[2], mean[3]);
    }
    let r = otklik_nlp::eval::score(&data, &predictions, 0.0);
    println!("{r}");
    println!(
        "SUMMARY n={} kind={:.4} inc_bal={:.4} cat_f1={:.4} terr={:.4} sent={:.4} urg={:.4}",
        data.len(),
        r.kind_accuracy,
        r.incident_balanced_accuracy,
        r.category_macro_f1,
        r.territory_accuracy,
        r.sentiment_accuracy,
        r.urgent_accuracy
    );
    Ok(())
}

/// Share of the messages labelled `question` that are predicted `question`.
fn question_recall(data: &[LabelledMessage], predictions: &[otklik_nlp::Analysis]) -> f64 {
    let (mut hit, mut all) = (0usize, 0usize);
    for (m, p) in data.iter().zip(predictions) {
        if m.kind.as_deref() == Some("question") {
            all += 1;
            hit += usize::from(p.kind.as_str() == "question");
        }
    }
    hit as f64 / all.max(1) as f64
}

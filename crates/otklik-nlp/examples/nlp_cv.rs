//! K-fold cross-validation on the training files, for choosing settings without the held-out set.
//!
//! `cargo run --release -p otklik-nlp --example nlp_cv -- [--folds K] [--bits B] [--epochs E] [--lr LR] [--l2 L2]
//! [--other-bias B] [--question-bias B] [--runs N] [--average] [--no-balance] [--model kind|category|sentiment|urgent] [--seed S] [--train-c FILE] [--train-d FILE] [--train-e FILE] [--train-f FILE] [--no-d] [--no-e] [--no-f] [--e-train-only] [--f-train-only] [--train-only LETTERS] [--by-file] [--errors] [--kind-errors]`
//!
//! `--model M` makes the following `--epochs/--lr/--l2/--decay/--average` apply to model M only.
//! Reads the training files `otklik_nlp::TRAINING_FILES` (`train-a.jsonl` … `train-f.jsonl`);
//! train-a and train-b must parse, a line of the others that does not is reported and skipped (a
//! file may still be being written) and a missing one is left out. `--no-d/--no-e/--no-f` leave a
//! file out. `--f-train-only` (`--e-train-only`, `--train-only ef`, …) keeps those files in every
//! training fold and never tests on them, so the scores of the other files with and without them
//! compare directly.
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
    // Folds are the files (train on the other writers, test on the held-back one): a harder, closer estimate
    // of how the model does on text by a writer it has not seen.
    let mut by_file = false;
    let mut show_kind_errors = false;
    let mut only: Option<String> = None;
    // The training files by writer letter; None = left out.
    const LETTERS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
    let mut paths: Vec<Option<String>> =
        otklik_nlp::TRAINING_FILES.iter().map(|f| Some(format!("{root}/{f}"))).collect();
    // Files that are always trained on and never tested.
    let mut train_only = [false; 6];
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
            // A snapshot of a file, so runs compared with each other see the same data.
            "--train-c" => paths[2] = Some(val()?),
            "--train-d" => paths[3] = Some(val()?),
            "--train-e" => paths[4] = Some(val()?),
            "--train-f" => paths[5] = Some(val()?),
            // Leave a file out (to compare with the figures measured before it existed).
            "--no-d" => paths[3] = None,
            "--no-e" => paths[4] = None,
            "--no-f" => paths[5] = None,
            "--e-train-only" => train_only[4] = true,
            "--f-train-only" => train_only[5] = true,
            "--train-only" => {
                for l in val()?.chars() {
                    let i = LETTERS.iter().position(|x| x.starts_with(l)).ok_or("--train-only takes letters a–f")?;
                    train_only[i] = true;
                }
            }
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
    for (n, path) in paths.iter().enumerate() {
        let Some(path) = path else { continue };
        if n < 2 {
            data.extend(otklik_nlp::read_corpus(BufReader::new(std::fs::File::open(path)?))?);
            file_of.resize(data.len(), n);
            continue;
        }
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        let name = format!("train-{}", LETTERS[n]);
        let (mut good, mut bad) = (0, 0);
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            match serde_json::from_str::<LabelledMessage>(line) {
                Ok(m) => {
                    good += 1;
                    data.push(m);
                    file_of.push(n);
                }
                Err(e) => {
                    bad += 1;
                    println!("{name} line {}: {e}", i + 1);
                }
            }
        }
        println!("{name}: {good} examples, {bad} unreadable lines skipped");
    }
    // With `--f-train-only` etc., those files get a fold of their own that is never tested.
    const NEVER: usize = usize::MAX;
    let fold_of: Vec<usize> = (0..data.len())
        .map(|i| match () {
            _ if train_only[file_of[i]] => NEVER,
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
    let file_of: Vec<usize> = tested.iter().map(|&i| file_of[i]).collect();
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
                println!(
                    "KIND {} want {want}/{wc} got {}/{pc} ({:.2}) | {}",
                    m.id,
                    p.kind.as_str(),
                    p.confidence.kind,
                    m.text
                );
            }
        }
    }
    println!("{cfg:?}");
    {
        // Each writer's file scored on its own, and the mean over files: with `--by-file` by the
        // model trained on the other files, else by the k-fold predictions.
        let mut mean = [0.0f64; 4];
        // A file left out (`--no-d`) or only trained on is not scored and not in the mean.
        let tested_files = (0..LETTERS.len()).filter(|k| file_of.contains(k)).count().max(1);
        for (k, letter) in LETTERS.iter().enumerate() {
            let idx: Vec<usize> = (0..data.len()).filter(|i| file_of[*i] == k).collect();
            if idx.is_empty() {
                continue;
            }
            let d: Vec<_> = idx.iter().map(|&i| data[i].clone()).collect();
            let p: Vec<_> = idx.iter().map(|&i| predictions[i].clone()).collect();
            let r = otklik_nlp::eval::score(&d, &p, 0.0);
            println!(
                "FILE {} n={} kind={:.4} inc_bal={:.4} cat_f1={:.4} q_recall={:.4}",
                letter,
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

//! Quality report of the analysis on labelled messages: per-class precision, recall and F1,
//! confusion matrices, macro-F1, accuracies and throughput.

use std::fmt;
use std::time::Instant;

use otklik_core::model::Kind;
use otklik_core::reference::CONTRACT_CATEGORIES;

use crate::corpus::LabelledMessage;
use crate::{Analysis, Analyzer};

/// A confusion matrix over named labels (rows = truth, columns = prediction).
#[derive(Debug, Clone, PartialEq)]
pub struct Confusion {
    pub labels: Vec<String>,
    pub counts: Vec<Vec<u64>>,
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassScore {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

impl Confusion {
    fn new(labels: &[&str]) -> Self {
        let n = labels.len();
        Confusion { labels: labels.iter().map(|s| s.to_string()).collect(), counts: vec![vec![0; n]; n] }
    }

    fn add(&mut self, truth: &str, pred: &str) {
        let (Some(t), Some(p)) =
            (self.labels.iter().position(|l| l == truth), self.labels.iter().position(|l| l == pred))
        else {
            return;
        };
        self.counts[t][p] += 1;
    }

    /// Scores of class `i`.
    pub fn score(&self, i: usize) -> ClassScore {
        let tp = self.counts[i][i] as f64;
        let support: u64 = self.counts[i].iter().sum();
        let predicted: u64 = self.counts.iter().map(|r| r[i]).sum();
        let precision = if predicted > 0 { tp / predicted as f64 } else { 0.0 };
        let recall = if support > 0 { tp / support as f64 } else { 0.0 };
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        ClassScore { precision, recall, f1, support }
    }

    /// Mean F1 over the classes that occur in the truth, excluding `skip` labels.
    pub fn macro_f1(&self, skip: &[&str]) -> f64 {
        let scores: Vec<f64> = (0..self.labels.len())
            .filter(|&i| !skip.contains(&self.labels[i].as_str()))
            .map(|i| self.score(i))
            .filter(|s| s.support > 0)
            .map(|s| s.f1)
            .collect();
        if scores.is_empty() { 0.0 } else { scores.iter().sum::<f64>() / scores.len() as f64 }
    }

    pub fn accuracy(&self) -> f64 {
        let total: u64 = self.counts.iter().flatten().sum();
        let right: u64 = (0..self.labels.len()).map(|i| self.counts[i][i]).sum();
        if total > 0 { right as f64 / total as f64 } else { 0.0 }
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, skip_rows: &[&str]) -> fmt::Result {
        writeln!(f, "  {:<18} {:>9} {:>9} {:>9} {:>8}", "class", "precision", "recall", "f1", "support")?;
        for (i, l) in self.labels.iter().enumerate() {
            if skip_rows.contains(&l.as_str()) {
                continue;
            }
            let s = self.score(i);
            writeln!(f, "  {:<18} {:>9.3} {:>9.3} {:>9.3} {:>8}", l, s.precision, s.recall, s.f1, s.support)?;
        }
        writeln!(f, "  confusion (rows = truth, columns = prediction, in the order above):")?;
        let short: Vec<String> = self.labels.iter().map(|l| l.chars().take(5).collect()).collect();
        write!(f, "  {:<18}", "")?;
        for s in &short {
            write!(f, " {s:>5}")?;
        }
        writeln!(f)?;
        for (i, row) in self.counts.iter().enumerate() {
            if row.iter().all(|&c| c == 0) && skip_rows.contains(&self.labels[i].as_str()) {
                continue;
            }
            write!(f, "  {:<18}", self.labels[i])?;
            for c in row {
                write!(f, " {c:>5}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// The report printed by `otklik nlp eval`.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub messages: usize,
    pub kind: Confusion,
    /// Over messages whose true kind is an incident; the predicted `none` counts as a miss.
    pub category: Confusion,
    pub kind_accuracy: f64,
    pub kind_macro_f1: f64,
    /// Mean of the recall of incidents and of non-incidents.
    pub incident_balanced_accuracy: f64,
    pub category_macro_f1: f64,
    /// Over incidents: both region and municipality right (or both empty when truly empty).
    pub territory_accuracy: f64,
    /// The same over all messages.
    pub territory_accuracy_all: f64,
    pub sentiment_accuracy: f64,
    pub urgent_accuracy: f64,
    pub urgent_precision: f64,
    pub urgent_recall: f64,
    /// Messages analysed per second on the calling thread.
    pub throughput: f64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b > 0 { a as f64 / b as f64 } else { 0.0 }
}

/// Runs the analyzer over labelled messages (on this thread) and scores it.
pub fn evaluate(analyzer: &Analyzer, data: &[LabelledMessage]) -> Report {
    let start = Instant::now();
    let predictions: Vec<Analysis> =
        data.iter().map(|m| analyzer.analyze(&m.text, m.channel.as_deref(), m.source.as_deref())).collect();
    let elapsed = start.elapsed().as_secs_f64();
    score(data, &predictions, elapsed)
}

/// Scores given predictions (exposed for cross-validation tools).
pub fn score(data: &[LabelledMessage], predictions: &[Analysis], elapsed_secs: f64) -> Report {
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let mut cats: Vec<&str> = CONTRACT_CATEGORIES.to_vec();
    cats.push("none");
    let mut kind = Confusion::new(&kinds);
    let mut category = Confusion::new(&cats);
    let (mut inc_right, mut inc_total, mut non_right, mut non_total) = (0u64, 0u64, 0u64, 0u64);
    let (mut terr_inc, mut terr_inc_n, mut terr_all, mut terr_all_n) = (0u64, 0u64, 0u64, 0u64);
    let (mut sent_right, mut sent_n, mut urg_right, mut urg_n) = (0u64, 0u64, 0u64, 0u64);
    let (mut urg_tp, mut urg_pred, mut urg_true) = (0u64, 0u64, 0u64);
    for (m, p) in data.iter().zip(predictions) {
        let pk = p.kind.as_str();
        if let Some(tk) = m.kind.as_deref() {
            kind.add(tk, pk);
            let t_inc = tk != "other";
            let p_inc = pk != "other";
            if t_inc {
                inc_total += 1;
                inc_right += u64::from(p_inc);
            } else {
                non_total += 1;
                non_right += u64::from(!p_inc);
            }
            if t_inc && let Some(tc) = m.category.as_deref() {
                category.add(tc, &p.category);
            }
        }
        if let (Some(r), Some(t)) = (m.region.as_deref(), m.territory.as_deref()) {
            let right = r == p.region && t == p.territory;
            terr_all_n += 1;
            terr_all += u64::from(right);
            if m.is_incident() == Some(true) {
                terr_inc_n += 1;
                terr_inc += u64::from(right);
            }
        }
        if let Some(s) = m.sentiment.as_deref() {
            sent_n += 1;
            sent_right += u64::from(s == p.sentiment.as_str());
        }
        if let Some(u) = m.urgent {
            urg_n += 1;
            urg_right += u64::from(u == p.urgent);
            urg_true += u64::from(u);
            urg_pred += u64::from(p.urgent);
            urg_tp += u64::from(u && p.urgent);
        }
    }
    Report {
        messages: data.len(),
        kind_accuracy: kind.accuracy(),
        kind_macro_f1: kind.macro_f1(&[]),
        incident_balanced_accuracy: (ratio(inc_right, inc_total) + ratio(non_right, non_total)) / 2.0,
        category_macro_f1: category.macro_f1(&["none"]),
        kind,
        category,
        territory_accuracy: ratio(terr_inc, terr_inc_n),
        territory_accuracy_all: ratio(terr_all, terr_all_n),
        sentiment_accuracy: ratio(sent_right, sent_n),
        urgent_accuracy: ratio(urg_right, urg_n),
        urgent_precision: ratio(urg_tp, urg_pred),
        urgent_recall: ratio(urg_tp, urg_true),
        throughput: if elapsed_secs > 0.0 { data.len() as f64 / elapsed_secs } else { 0.0 },
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "messages: {}", self.messages)?;
        writeln!(f, "kind:")?;
        self.kind.write(f, &[])?;
        writeln!(f, "category (over true incidents; `none` = predicted not an incident):")?;
        self.category.write(f, &["none"])?;
        writeln!(f, "kind accuracy:                 {:.4}", self.kind_accuracy)?;
        writeln!(f, "kind macro-F1:                 {:.4}", self.kind_macro_f1)?;
        writeln!(f, "incident balanced accuracy:    {:.4}", self.incident_balanced_accuracy)?;
        writeln!(f, "category macro-F1 (incidents): {:.4}", self.category_macro_f1)?;
        writeln!(f, "territory accuracy (incidents):{:.4}", self.territory_accuracy)?;
        writeln!(f, "territory accuracy (all):      {:.4}", self.territory_accuracy_all)?;
        writeln!(f, "sentiment accuracy:            {:.4}", self.sentiment_accuracy)?;
        writeln!(
            f,
            "urgent accuracy:               {:.4} (precision {:.3}, recall {:.3})",
            self.urgent_accuracy, self.urgent_precision, self.urgent_recall
        )?;
        writeln!(f, "throughput:                    {:.0} messages/s (one thread)", self.throughput)
    }
}

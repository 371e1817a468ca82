//! The quality floor on the held-out corpus (never used in training or tuning).
//!
//! `heldout_does_not_regress` guards the figures measured when the shipped model was trained
//! (docs/nlp.md: kind 0.856, incident balanced accuracy 0.931, category macro-F1 0.868, territory
//! 0.948). Incident balanced accuracy and territory meet the targets (≥ 0.93, ≥ 0.92) and
//! are held to them; kind (target 0.88) and category macro-F1 (target 0.88) are not met yet, so
//! their floors sit just under the measured figures — raise them to the targets when a model
//! meets them.

mod common;

fn report() -> otklik_nlp::Report {
    let data = common::corpus("heldout.jsonl");
    let report = otklik_nlp::evaluate(common::analyzer(), &data);
    eprintln!("{report}");
    report
}

#[test]
fn heldout_does_not_regress() {
    let r = report();
    assert!(r.kind_accuracy >= 0.85, "kind accuracy {}", r.kind_accuracy);
    assert!(r.incident_balanced_accuracy >= 0.93, "incident balanced accuracy {}", r.incident_balanced_accuracy);
    assert!(r.category_macro_f1 >= 0.86, "category macro-F1 {}", r.category_macro_f1);
    assert!(r.territory_accuracy >= 0.92, "territory accuracy {}", r.territory_accuracy);
}

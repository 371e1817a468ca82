//! The quality floor on the held-out corpus (never used in training or tuning).
//!
//! `heldout_does_not_regress` guards the figures measured when the shipped model was trained
//! (docs/nlp.md). The targets (kind ≥ 0.88, incident balanced accuracy ≥ 0.93, category
//! macro-F1 ≥ 0.88) are not met yet by the shipped model; raise these floors to them when one is.

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
    assert!(r.incident_balanced_accuracy >= 0.92, "incident balanced accuracy {}", r.incident_balanced_accuracy);
    assert!(r.category_macro_f1 >= 0.84, "category macro-F1 {}", r.category_macro_f1);
    assert!(r.territory_accuracy >= 0.92, "territory accuracy {}", r.territory_accuracy);
}

//! The quality floor on the held-out corpus (never used in training or tuning).
//!
//! `heldout_does_not_regress` guards the figures measured when the shipped model was trained
//! (docs/nlp.md: kind 0.876, incident balanced accuracy 0.932, category macro-F1 0.887, territory
//! 0.948). Incident balanced accuracy, category macro-F1 and territory meet the targets
//! (≥ 0.93, ≥ 0.88, ≥ 0.92) and are held to them; kind accuracy (target 0.88) is not met yet, so
//! its floor sits just under the measured figure — raise it to the target when a model meets it.

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
    assert!(r.kind_accuracy >= 0.87, "kind accuracy {}", r.kind_accuracy);
    assert!(r.incident_balanced_accuracy >= 0.93, "incident balanced accuracy {}", r.incident_balanced_accuracy);
    assert!(r.category_macro_f1 >= 0.88, "category macro-F1 {}", r.category_macro_f1);
    assert!(r.territory_accuracy >= 0.92, "territory accuracy {}", r.territory_accuracy);
}

//! Training is deterministic (same examples and seed → identical bytes) and takes partial labels.

mod common;

use otklik_nlp::{LabelledMessage, Model, TrainConfig, train_with};

fn small() -> TrainConfig {
    let mut c = TrainConfig { bits: 14, ..TrainConfig::default() };
    for s in [&mut c.kind, &mut c.category, &mut c.sentiment, &mut c.urgent] {
        s.epochs = 3;
    }
    c
}

#[test]
fn same_input_and_seed_give_identical_bytes() {
    let data: Vec<_> = common::corpus("train-a.jsonl").into_iter().take(300).collect();
    let a = train_with(&data, &small(), 42).to_bytes();
    let b = train_with(&data, &small(), 42).to_bytes();
    assert_eq!(a, b);
    let c = train_with(&data, &small(), 43).to_bytes();
    assert_ne!(a, c, "the seed changes the order of examples");
    let m = Model::from_bytes(&a).unwrap();
    assert_eq!(m.to_bytes(), a, "an artefact reads back to itself");
}

#[test]
fn partial_labels_are_accepted() {
    let mut data: Vec<_> = common::corpus("train-a.jsonl").into_iter().take(100).collect();
    // An operator's correction carrying only kind and category.
    data.push(LabelledMessage {
        text: "у нас во дворе яма".into(),
        kind: Some("complaint".into()),
        category: Some("landscaping".into()),
        ..LabelledMessage::default()
    });
    let m = train_with(&data, &small(), 1);
    assert_eq!(m.examples, 101);
    let line = r#"{"text": "нет света", "kind": "complaint"}"#;
    let parsed = otklik_nlp::read_corpus(line.as_bytes()).unwrap();
    assert_eq!(parsed[0].category, None);
}

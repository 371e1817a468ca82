//! Bad input never crashes: empty, emoji only, 1 MB, invalid JSON lines, other languages, control
//! characters; output lines always match input lines in number, order and id.

mod common;

use otklik_core::model::{Kind, Sentiment};
use otklik_nlp::classify_stream;

#[test]
fn odd_texts_are_other_with_low_confidence() {
    let a = common::analyzer();
    for text in ["", "   ", "😡😡😡👍", "Hello, when will you fix the road?", "\u{0}\u{1}\u{7f}", "12345 !!! ???"]
    {
        let r = a.analyze(text, None, None);
        assert_eq!(r.kind, Kind::Other, "{text:?}");
        assert_eq!(r.category, "none");
        assert!(r.confidence.kind < 0.5, "{text:?}");
        assert!(!r.urgent);
    }
}

#[test]
fn a_megabyte_of_text_is_analysed_quickly() {
    let text = "яма на дороге в Ельце, ".repeat(45_000);
    assert!(text.len() > 1_000_000);
    let start = std::time::Instant::now();
    let r = common::analyzer().analyze(&text, Some("vk"), None);
    assert!(start.elapsed().as_secs_f64() < 2.0);
    assert_eq!(r.territory, "город Елец");
}

#[test]
fn stream_answers_every_line_in_order() {
    let input = concat!(
        "{\"id\": \"m1\", \"text\": \"в Ельце на Коммунаров яма на яме\", \"channel\": \"vk\"}\n",
        "not json\n",
        "\n",
        "{\"id\": 7, \"text\": 5}\n",
        "{\"id\": \"m3\"}\n",
        "[1, 2]\n",
        "{\"id\": \"m4\", \"text\": \"\"}\n",
        "{\"id\": \"m5\", \"text\": \"😡\", \"source\": null}\n",
    );
    let mut raw = input.as_bytes().to_vec();
    raw.extend_from_slice(b"{\"id\": \"m6\", \"text\": \"\xff\xfe\"}\n");
    raw.extend_from_slice("{\"id\": \"m7\", \"text\": \"нет света\"}".as_bytes());
    let mut out = Vec::new();
    let stats = classify_stream(&raw[..], &mut out, common::analyzer()).unwrap();
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(stats.lines, 10);
    let ids: Vec<String> = lines.iter().map(|l| l["id"].to_string()).collect();
    assert_eq!(ids, ["\"m1\"", "null", "null", "7", "\"m3\"", "null", "\"m4\"", "\"m5\"", "null", "\"m7\""]);
    let errors: Vec<bool> = lines.iter().map(|l| l.get("error").is_some()).collect();
    assert_eq!(errors, [false, true, true, true, true, true, false, false, true, false]);
    assert_eq!(stats.errors, 6);
    let first = &lines[0];
    assert_eq!(first["kind"], "complaint");
    assert_eq!(first["category"], "roads");
    assert_eq!(first["region"], "Липецкая область");
    assert_eq!(first["territory"], "город Елец");
    assert_eq!(first["sentiment"], "negative");
    assert_eq!(first["urgent"], false);
    assert!(first["confidence"]["kind"].as_f64().is_some());
    assert!(first.get("territory_code").is_none(), "internal fields stay out of the contract");
    let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 8, "{keys:?}");
}

#[test]
fn damaged_models_are_refused() {
    let r = common::reference();
    assert!(otklik_nlp::Analyzer::from_model_bytes(b"", &r).is_err());
    let mut bytes = otklik_nlp::BUILTIN_MODEL.to_vec();
    bytes[100] ^= 1;
    assert!(otklik_nlp::Analyzer::from_model_bytes(&bytes, &r).is_err());
}

#[test]
fn the_contract_and_server_examples_keep_their_labels() {
    // otklik-server's tests rely on these analyses of the builtin model.
    let a = common::analyzer();
    let r = a.analyze("в Ельце на Коммунаров яма на яме, колёса бьём каждый день", Some("vk"), Some("Подслушано Елец"));
    assert_eq!((r.kind, r.category.as_str()), (Kind::Complaint, "roads"));
    let r = a.analyze("в Ельце на Коммунаров яма на яме", Some("vk"), Some("optional page or group name"));
    assert_eq!((r.kind, r.category.as_str(), r.sentiment), (Kind::Complaint, "roads", Sentiment::Negative));
    let r = a.analyze("Продам гараж недорого, звоните", None, None);
    assert_eq!((r.kind, r.category.as_str()), (Kind::Other, "none"));
}

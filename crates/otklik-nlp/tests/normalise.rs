//! Normalisation of social-media Russian: case, ё, stretched letters, emojis, links, mentions,
//! hashtags, Latin look-alikes and common misspellings.

use otklik_nlp::normalize::{Normaliser, TokenKind};

fn norms(text: &str) -> Vec<String> {
    Normaliser::new().normalise(text).tokens.into_iter().map(|t| t.norm).collect()
}

#[test]
fn case_yo_and_stretched_letters() {
    assert_eq!(norms("ОООЧЕНЬ Плохо, всё"), ["очень", "плохо", "все"]);
    assert_eq!(norms("ааааа помогитеее"), ["а", "помогите"]);
    // Doubled letters are real Russian spelling and stay.
    assert_eq!(norms("длинный"), ["длинный"]);
}

#[test]
fn urls_mentions_hashtags_and_emojis() {
    assert_eq!(
        norms("@id12345 смотрите https://vk.com/wall-1_2 #ЖКХ_Липецк 😡👍 )))"),
        ["<mention>", "смотрите", "<url>", "жкх", "липецк", "<emo->", "<emo+>", "<emo+>"]
    );
    let n = Normaliser::new().normalise("www.example.ru");
    assert_eq!(n.tokens[0].kind, TokenKind::Url);
}

#[test]
fn latin_lookalikes_inside_cyrillic_words() {
    // «м» and «о» typed in Latin inside «мусор», «A» and «C» in «АСФАЛЬТ».
    assert_eq!(norms("мусoр"), ["мусор"]);
    assert_eq!(norms("AСФАЛЬТ"), ["асфальт"]);
    // A Latin word stays Latin.
    assert_eq!(norms("Wi-Fi"), ["wi-fi"]);
}

#[test]
fn common_misspellings() {
    assert_eq!(norms("щас када зделают спс"), ["сейчас", "когда", "сделают", "спасибо"]);
    assert_eq!(norms("незнаю"), ["не", "знаю"]);
}

#[test]
fn stems_come_from_snowball() {
    let n = Normaliser::new();
    assert_eq!(n.normalise("Липецке").tokens[0].stem, n.normalise("Липецк").tokens[0].stem);
    assert_eq!(n.normalise("дорогами").tokens[0].stem, n.normalise("дороги").tokens[0].stem);
}

#[test]
fn control_characters_and_huge_text() {
    assert_eq!(norms("яма\u{0}\u{7}на\u{200B}дороге"), ["яма", "на", "дороге"]);
    let big = "яма ".repeat(300_000);
    let n = Normaliser::new().normalise(&big);
    assert!(n.tokens.len() < 10_000, "long texts are cut: {}", n.tokens.len());
}

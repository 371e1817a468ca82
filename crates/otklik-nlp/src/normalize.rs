//! Normalisation of social-media Russian into tokens: case, ё/е, stretched letters, emojis, URLs,
//! mentions, hashtags, Latin look-alikes inside Cyrillic words and common misspellings.

use std::borrow::Cow;

use rust_stemmers::{Algorithm, Stemmer};

/// Texts longer than this many bytes are analysed by their beginning only, so a 1 MB message
/// costs the same as a long one and never stalls a stream.
pub const MAX_ANALYSED_BYTES: usize = 16 * 1024;

/// What a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A word (letters, digits, inner hyphens).
    Word,
    /// A link, replaced by a marker.
    Url,
    /// An `@mention`, replaced by a marker.
    Mention,
    /// A positive emoji or `)))`.
    EmojiPositive,
    /// A negative emoji or `(((`.
    EmojiNegative,
    /// Any other pictograph.
    Emoji,
    /// `?`
    Question,
    /// `!`
    Exclamation,
}

/// One token of a normalised text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// Lower case, ё→е, look-alikes fixed, stretched letters collapsed, misspellings corrected;
    /// a marker such as `<url>` for non-words.
    pub norm: String,
    /// Snowball stem of `norm` (equal to `norm` for non-words).
    pub stem: String,
    /// The word began with a capital letter in the original text.
    pub capitalised: bool,
    /// The word starts a sentence (first word, or after `.`, `!`, `?`, a line break or a marker).
    pub sentence_start: bool,
    /// The whole word was in capitals in the original (and longer than one letter).
    pub all_caps: bool,
}

/// A text as tokens plus a few surface signals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalised {
    pub tokens: Vec<Token>,
    /// Number of Cyrillic letters seen (0 means the text is not Russian, or has no words).
    pub cyrillic_letters: usize,
    /// Number of letters of any script.
    pub letters: usize,
}

impl Normalised {
    /// Word tokens only.
    pub fn words(&self) -> impl Iterator<Item = &Token> {
        self.tokens.iter().filter(|t| t.kind == TokenKind::Word)
    }
}

/// Russian normaliser with its stemmer; cheap to share between threads.
pub struct Normaliser {
    stemmer: Stemmer,
}

impl std::fmt::Debug for Normaliser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Normaliser(russian snowball)")
    }
}

impl Default for Normaliser {
    fn default() -> Self {
        Self::new()
    }
}

/// `char::is_alphabetic` with fast paths for ASCII and Russian letters (the generic table lookup
/// dominated the profile).
fn is_letter(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' | 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё' => true,
        c if c.is_ascii() => false,
        c => c.is_alphabetic(),
    }
}

fn is_letter_or_digit(c: char) -> bool {
    c.is_ascii_digit() || is_letter(c) || (!c.is_ascii() && c.is_numeric())
}

/// Lower case with a fast path for ASCII and Russian letters.
fn lower(c: char) -> char {
    match c {
        'A'..='Z' => c.to_ascii_lowercase(),
        'А'..='Я' => char::from_u32(c as u32 + 0x20).unwrap_or(c),
        'Ё' => 'ё',
        c if c.is_ascii() || ('а'..='я').contains(&c) => c,
        c => c.to_lowercase().next().unwrap_or(c),
    }
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}')
}

/// Latin letters that look like Cyrillic ones, as typed by people or spammers inside Russian words.
fn latin_lookalike(c: char) -> Option<char> {
    Some(match c {
        'a' | 'A' => 'а',
        'b' => 'ь',
        'B' => 'в',
        'c' | 'C' => 'с',
        'e' | 'E' => 'е',
        'H' => 'н',
        'k' | 'K' => 'к',
        'M' => 'м',
        'o' | 'O' => 'о',
        'p' | 'P' => 'р',
        'T' => 'т',
        'x' | 'X' => 'х',
        'y' | 'Y' => 'у',
        'u' => 'и',
        'n' => 'п',
        'm' => 'т',
        '0' => 'о',
        _ => return None,
    })
}

/// Emojis people use to praise or thank.
fn positive_emoji(c: char) -> bool {
    matches!(
        c,
        '😊' | '🙂'
            | '😀'
            | '😃'
            | '😄'
            | '😁'
            | '👍'
            | '🙏'
            | '❤'
            | '💐'
            | '🌸'
            | '☀'
            | '🥰'
            | '😍'
            | '👏'
            | '✨'
            | '🎉'
            | '🤗'
            | '😉'
            | '💪'
            | '🌷'
            | '🌹'
            | '💖'
            | '💕'
            | '♥'
            | '🔥'
            | '🌞'
            | '😘'
            | '☺'
    )
}

/// Emojis of anger, sadness or disgust.
fn negative_emoji(c: char) -> bool {
    matches!(
        c,
        '😡' | '🤬'
            | '😠'
            | '👎'
            | '😢'
            | '😭'
            | '😤'
            | '💩'
            | '🤦'
            | '😱'
            | '😞'
            | '😔'
            | '🙄'
            | '🤮'
            | '😩'
            | '😫'
            | '😒'
            | '🥶'
            | '😨'
            | '😰'
            | '💔'
            | '🤢'
            | '😣'
            | '😖'
    )
}

fn is_pictograph(c: char) -> bool {
    matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF)
}

/// Invisible or formatting characters that are dropped (variation selectors, joiners, BOM).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// Common social-media spellings mapped to the standard word, so one word is one feature.
fn correct_spelling(word: &str) -> Option<&'static str> {
    Some(match word {
        "щас" | "щяс" | "ща" | "счас" | "сичас" => "сейчас",
        "чо" | "че" | "шо" | "што" | "чтото" => "что",
        "ничо" | "ниче" => "ничего",
        "када" | "кагда" | "кода" => "когда",
        "скока" | "скоко" | "скок" => "сколько",
        "пжлст" | "пжл" | "плз" | "плиз" | "пожалуйсто" | "пожалста" | "пож" | "пожалуста" => {
            "пожалуйста"
        }
        "спс" | "спасиб" | "пасиб" | "спасибки" | "пасибо" | "сенкс" => "спасибо",
        "ваще" | "вобще" | "вообщем" | "вобщем" => "вообще",
        "тока" | "токо" => "только",
        "нету" => "нет",
        "седня" | "сення" | "сегодне" => "сегодня",
        "сдесь" | "зддесь" => "здесь",
        "зделать" => "сделать",
        "зделали" => "сделали",
        "зделают" => "сделают",
        "извените" | "извеняюсь" => "извините",
        "здраствуйте" | "здрасте" | "здрасьте" | "здрасти" | "здраствуйти" => {
            "здравствуйте"
        }
        "канешно" | "конешно" | "канечно" => "конечно",
        "щитаю" => "считаю",
        "серавно" | "всеравно" => "все равно",
        "чтоли" => "что ли",
        "вопше" => "вообще",
        "ктонибудь" => "кто-нибудь",
        "когдато" => "когда-то",
        "незнаю" => "не знаю",
        "немогу" => "не могу",
        "ребят" => "ребята",
        "прив" | "приветик" => "привет",
        "оч" => "очень",
        "мб" => "может",
        "ток" => "только",
        "тел" => "телефон",
        "жэк" | "жек" => "жкх",
        "у.к." => "ук",
        _ => return None,
    })
}

struct Builder<'a> {
    out: Normalised,
    stemmer: &'a Stemmer,
    sentence_start: bool,
}

impl Builder<'_> {
    fn marker(&mut self, kind: TokenKind, norm: &str) {
        self.out.tokens.push(Token {
            kind,
            norm: norm.to_string(),
            stem: norm.to_string(),
            capitalised: false,
            sentence_start: false,
            all_caps: false,
        });
    }

    fn word(&mut self, raw: &[char]) {
        // Trim hyphens at the edges: they are dashes, not part of the word.
        let mut raw = raw;
        while let [first, rest @ ..] = raw
            && *first == '-'
        {
            raw = rest;
        }
        while let [rest @ .., last] = raw
            && *last == '-'
        {
            raw = rest;
        }
        if raw.is_empty() {
            return;
        }
        let has_cyr = raw.iter().any(|&c| is_cyrillic(c));
        let capitalised = raw[0].is_uppercase();
        let letters = raw.iter().filter(|&&c| is_letter(c)).count();
        let all_caps = letters > 1 && raw.iter().filter(|&&c| is_letter(c)).all(|c| c.is_uppercase());
        let mut norm = String::with_capacity(raw.len() * 2);
        let mut prev: Option<char> = None;
        let mut run = 0usize;
        for &c in raw {
            let c = if has_cyr && !is_cyrillic(c) { latin_lookalike(c).unwrap_or(c) } else { c };
            let c = lower(c);
            let c = if c == 'ё' { 'е' } else { c };
            let letter = is_letter(c);
            if letter {
                self.out.letters += 1;
                if is_cyrillic(c) {
                    self.out.cyrillic_letters += 1;
                }
            }
            if Some(c) == prev {
                run += 1;
            } else {
                run = 1;
                prev = Some(c);
            }
            // A letter stretched three or more times («ооочень») is one letter; doubles stay.
            if run == 3 && letter {
                norm.pop();
                continue;
            }
            if run > 3 && letter {
                continue;
            }
            norm.push(c);
        }
        let sentence_start = std::mem::replace(&mut self.sentence_start, false);
        let corrected = correct_spelling(&norm);
        let words: Vec<Cow<'_, str>> = match corrected {
            Some(c) => c.split(' ').map(Cow::Borrowed).collect(),
            None => vec![Cow::Owned(norm)],
        };
        for (i, w) in words.into_iter().enumerate() {
            let stem = if w.chars().any(is_letter) { self.stemmer.stem(&w).into_owned() } else { w.to_string() };
            self.out.tokens.push(Token {
                kind: TokenKind::Word,
                norm: w.into_owned(),
                stem,
                capitalised: capitalised && i == 0,
                sentence_start: sentence_start && i == 0,
                all_caps,
            });
        }
    }
}

impl Normaliser {
    pub fn new() -> Self {
        Normaliser { stemmer: Stemmer::create(Algorithm::Russian) }
    }

    /// The Snowball stem of one already lower-cased word.
    pub fn stem(&self, word: &str) -> String {
        self.stemmer.stem(word).into_owned()
    }

    /// Splits and normalises a text; never fails, whatever the input.
    pub fn normalise(&self, text: &str) -> Normalised {
        let text = truncate(text, MAX_ANALYSED_BYTES);
        let chars: Vec<char> = text.chars().collect();
        let mut b = Builder { out: Normalised::default(), stemmer: &self.stemmer, sentence_start: true };
        let mut i = 0;
        let n = chars.len();
        let mut word: Vec<char> = Vec::with_capacity(32);
        let starts_with =
            |i: usize, s: &str| (i..).zip(s.chars()).all(|(j, sc)| j < n && chars[j].to_ascii_lowercase() == sc);
        while i < n {
            let c = chars[i];
            let at_word_start = word.is_empty();
            if at_word_start && (starts_with(i, "http://") || starts_with(i, "https://") || starts_with(i, "www.")) {
                while i < n && !chars[i].is_whitespace() {
                    i += 1;
                }
                b.marker(TokenKind::Url, "<url>");
                continue;
            }
            if at_word_start && c == '@' && i + 1 < n && (is_letter_or_digit(chars[i + 1]) || chars[i + 1] == '_') {
                i += 1;
                while i < n && (is_letter_or_digit(chars[i]) || chars[i] == '_' || chars[i] == '.') {
                    i += 1;
                }
                b.marker(TokenKind::Mention, "<mention>");
                continue;
            }
            if is_letter_or_digit(c) || (c == '-' && !word.is_empty()) {
                word.push(c);
                i += 1;
                continue;
            }
            if !word.is_empty() {
                b.word(&word);
                word.clear();
            }
            match c {
                // A hashtag is its words: #ЖКХ_Липецк → жкх, липецк.
                '#' | '_' => {}
                '?' => {
                    b.marker(TokenKind::Question, "?");
                    b.sentence_start = true;
                }
                '!' => {
                    b.marker(TokenKind::Exclamation, "!");
                    b.sentence_start = true;
                }
                '.' | '\n' | '\r' | ':' | ';' => b.sentence_start = true,
                ')' | '(' => {
                    let mut j = i;
                    while j < n && chars[j] == c {
                        j += 1;
                    }
                    // «)))» is a smile and «(((» sadness; a single bracket is punctuation.
                    if j - i >= 2 || (c == ')' && i > 0 && chars[i - 1] == ':') {
                        let kind = if c == ')' { TokenKind::EmojiPositive } else { TokenKind::EmojiNegative };
                        b.marker(kind, if c == ')' { "<emo+>" } else { "<emo->" });
                    }
                    i = j;
                    continue;
                }
                c if positive_emoji(c) => b.marker(TokenKind::EmojiPositive, "<emo+>"),
                c if negative_emoji(c) => b.marker(TokenKind::EmojiNegative, "<emo->"),
                c if is_pictograph(c) => b.marker(TokenKind::Emoji, "<emo>"),
                c if is_invisible(c) || c.is_control() => {}
                _ => {}
            }
            i += 1;
        }
        if !word.is_empty() {
            b.word(&word);
        }
        b.out
    }
}

/// The longest prefix of `text` not above `max` bytes, cut at a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

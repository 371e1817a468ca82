//! Territory resolution: inflected names, neighbourhoods, equal names told apart by context,
//! the source page as a fallback, and no guess when no place is named.

mod common;

fn place(text: &str, source: Option<&str>) -> (String, String) {
    let a = common::analyzer().analyze(text, Some("vk"), source);
    (a.region, a.territory)
}

fn pair(r: &str, t: &str) -> (String, String) {
    (r.to_string(), t.to_string())
}

#[test]
fn inflected_city_names() {
    assert_eq!(place("в Ельце на Коммунаров яма на яме", None), pair("Липецкая область", "город Елец"));
    assert_eq!(place("Автобус из Лебедяни опять не пришёл", None), pair("Липецкая область", "Лебедянский"));
    assert_eq!(place("в Липецке нет горячей воды", None), pair("Липецкая область", "город Липецк"));
    // «Елецкий район» is another municipality than «город Елец».
    assert_eq!(place("В Елецком районе дороги разбиты", None), pair("Липецкая область", "Елецкий"));
}

#[test]
fn neighbourhoods_and_metro_stations() {
    assert_eq!(place("в Купчино опять отключили отопление", None), pair("Санкт-Петербург", "Фрунзенский"));
    assert_eq!(place("у метро Ладожская сломан светофор", None), pair("Санкт-Петербург", "Красногвардейский"));
}

#[test]
fn equal_names_are_told_apart_by_context() {
    assert_eq!(
        place("В Приморском районе Петербурга у метро Беговая нет света", None),
        pair("Санкт-Петербург", "Приморский")
    );
    assert_eq!(
        place("В Приморском районе под Архангельском размыло дорогу", None),
        pair("Архангельская область", "Приморский")
    );
    assert_eq!(
        place("Приморский район: в деревне нет света", Some("Правительство Архангельской области")),
        pair("Архангельская область", "Приморский")
    );
    assert_eq!(
        place("Приморский район, на Савушкина яма", Some("Бот ЦУР Санкт-Петербурга")),
        pair("Санкт-Петербург", "Приморский")
    );
}

#[test]
fn source_is_the_fallback() {
    // A registered source key, a page name, and a regional page.
    assert_eq!(place("когда уберут снег?", Some("club-adm-gryazi")), pair("Липецкая область", "Грязинский"));
    assert_eq!(
        place("когда уберут снег?", Some("Администрация Грязинского муниципального округа")),
        pair("Липецкая область", "Грязинский")
    );
    assert_eq!(place("когда уберут снег?", Some("Подслушано Лебедянь")), pair("Липецкая область", "Лебедянский"));
    assert_eq!(place("когда уберут снег?", Some("Правительство Липецкой области")), pair("Липецкая область", ""));
    // The text wins over the source.
    assert_eq!(place("в Ельце яма", Some("Администрация города Липецка")), pair("Липецкая область", "город Елец"));
}

#[test]
fn no_place_gives_empty() {
    assert_eq!(place("когда дадут горячую воду?", None), pair("", ""));
    assert_eq!(place("когда дадут горячую воду?", Some("Пенсионеры России")), pair("", ""));
    // Words that merely look like place names are not places (known limit: a capitalised common
    // word at the start of a sentence that equals a settlement's name, «Грязи по колено», is taken
    // as the place).
    assert_eq!(place("Доброе утро! во дворе грязи по колено", None), pair("", ""));
    assert_eq!(place("Добрый день, у нас в грязи все машины", None), pair("", ""));
}

#[test]
fn settlement_gives_its_municipality_and_code() {
    let a = common::analyzer().analyze("В Казинке второй день нет воды", None, None);
    assert_eq!((a.region.as_str(), a.territory.as_str()), ("Липецкая область", "Грязинский"));
    assert_eq!(a.territory_code.as_deref(), Some("gryazinsky-kazinka"));
}

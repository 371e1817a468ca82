//! Source configuration as the server's TOML gives it, and adapter construction checks.

use otklik_channels::{Channel, ChannelError, IntakeMode, Secret, SourceConfig, adapter};

#[derive(Debug, serde::Deserialize)]
struct File {
    channels: Vec<SourceConfig>,
}

#[test]
fn channels_tables_deserialize_with_defaults() {
    let f: File = toml::from_str(
        r#"
        [[channels]]
        channel = "vk"
        source = "club-adm-gryazi"
        group_id = "123"
        token = "vk1.a.token"
        secret = "cb-secret"
        confirmation = "a1b2c3d4"

        [[channels]]
        channel = "telegram"
        source = "tg-bot"
        token = "1:abc"
        mode = "poll"
        api_base = "http://127.0.0.1:9"
        "#,
    )
    .expect("parses");
    assert_eq!(f.channels.len(), 2);
    assert_eq!(f.channels[0].channel, Channel::Vk);
    assert_eq!(f.channels[0].mode, IntakeMode::Webhook);
    assert_eq!(f.channels[0].token.as_ref().map(Secret::expose), Some("vk1.a.token"));
    assert_eq!(f.channels[1].mode, IntakeMode::Poll);
    let shown = format!("{f:?}");
    assert!(!shown.contains("vk1.a.token") && !shown.contains("cb-secret") && !shown.contains("1:abc"), "{shown}");
    for c in f.channels {
        adapter(c, reqwest::Client::new()).expect("valid configuration builds");
    }
}

#[test]
fn unknown_fields_and_modes_are_rejected() {
    let e = toml::from_str::<File>("[[channels]]\nchannel = \"vk\"\nsource = \"s\"\ntokn = \"x\"\n").unwrap_err();
    assert!(e.to_string().contains("tokn"), "{e}");
    assert!(toml::from_str::<File>("[[channels]]\nchannel = \"vk\"\nsource = \"s\"\nmode = \"push\"\n").is_err());
}

#[test]
fn invalid_configurations_are_config_errors() {
    let http = reqwest::Client::new();
    let web = SourceConfig::new(Channel::Web, "form");
    assert!(matches!(adapter(web, http.clone()), Err(ChannelError::Config(r)) if r.contains("web")));

    let mut vk = SourceConfig::new(Channel::Vk, "vk");
    vk.token = Some(Secret::new("t"));
    vk.secret = Some(Secret::new("s"));
    assert!(matches!(adapter(vk.clone(), http.clone()), Err(ChannelError::Config(r)) if r.contains("group_id")));
    vk.group_id = Some("-5".into());
    assert!(matches!(adapter(vk.clone(), http.clone()), Err(ChannelError::Config(r)) if r.contains("positive")));
    vk.group_id = Some("5".into());
    vk.secret = None;
    assert!(matches!(adapter(vk.clone(), http.clone()), Err(ChannelError::Config(r)) if r.contains("secret")));
    vk.mode = IntakeMode::Poll;
    assert!(adapter(vk, http.clone()).is_ok());

    let mut tg = SourceConfig::new(Channel::Telegram, "tg");
    assert!(matches!(adapter(tg.clone(), http.clone()), Err(ChannelError::Config(r)) if r.contains("token")));
    tg.token = Some(Secret::new("1:a"));
    assert!(matches!(adapter(tg, http.clone()), Err(ChannelError::Config(r)) if r.contains("secret")));

    let mut ok = SourceConfig::new(Channel::Ok, "ok");
    ok.group_id = Some("1".into());
    ok.token = Some(Secret::new("t"));
    ok.topics = vec!["5".into()];
    assert!(matches!(adapter(ok, http), Err(ChannelError::Config(r)) if r.contains("app_key")));
}

#[test]
fn secret_debug_is_redacted() {
    assert_eq!(format!("{:?}", Secret::new("hunter2")), "<redacted>");
}

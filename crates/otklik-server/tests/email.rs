//! Notifications by e-mail against a local fake SMTP server: the right people get a Russian
//! message once; a failing server is retried; bad settings are refused.

mod common;

use std::sync::{Arc, Mutex};

use common::TestApp;
use otklik_core::model::PublicationState;
use otklik_server::email::{EmailConfig, Mailer, Recipients};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One received e-mail: envelope recipients and the data.
#[derive(Debug, Clone)]
struct Mail {
    rcpt: Vec<String>,
    data: String,
}

/// A minimal SMTP server (RFC 5321 commands the client uses); answers 451 to MAIL while `down`.
async fn fake_smtp(down: Arc<Mutex<bool>>) -> (String, Arc<Mutex<Vec<Mail>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Arc<Mutex<Vec<Mail>>> = Default::default();
    let g = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let (g, down) = (g.clone(), down.clone());
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 fake ESMTP\r\n").await.unwrap();
                let mut mail = Mail { rcpt: vec![], data: String::new() };
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-fake\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM") {
                        if *down.lock().unwrap() { b"451 try again later\r\n" } else { b"250 ok\r\n" }
                    } else if let Some(r) = upper.strip_prefix("RCPT TO:") {
                        mail.rcpt.push(r.trim().trim_matches(['<', '>']).to_ascii_lowercase());
                        b"250 ok\r\n"
                    } else if upper == "DATA" {
                        w.write_all(b"354 go on\r\n").await.unwrap();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            mail.data.push_str(&l);
                            mail.data.push('\n');
                        }
                        g.lock().unwrap().push(mail.clone());
                        mail = Mail { rcpt: vec![], data: String::new() };
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (format!("smtp://{addr}"), got)
}

fn config(smtp: String) -> EmailConfig {
    EmailConfig {
        smtp,
        from: "Отклик <otklik@example.ru>".into(),
        to: vec![
            Recipients { node: "adm-gryazinsky".into(), addresses: vec!["head@gryazi.example.ru".into()] },
            Recipients { node: "lipetsk-oblast".into(), addresses: vec!["cur@lipetsk.example.ru".into()] },
            Recipients { node: "yelets-city".into(), addresses: vec!["yelets@example.ru".into()] },
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_is_mailed_once_to_the_organisation_and_the_region() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let down = Arc::new(Mutex::new(true));
    let (smtp, got) = fake_smtp(down.clone()).await;
    let mailer = Mailer::new(config(smtp)).unwrap();
    let id = app.ingest(&admin, "mail-1", Some("gryazinsky")).await;
    app.act(&admin, id, json!({"action": "assign", "org": "adm-gryazinsky"})).await;
    app.clock.advance(chrono::Duration::hours(10));
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().breached, 1);

    // The server is down: nothing is lost, the notification waits.
    assert_eq!(mailer.deliver_pending(app.store.as_ref()).await.unwrap(), 0);
    let pending = app.store.pending_emails(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].email_state, pending[0].email_attempts), (Some(PublicationState::Failed), 1));
    *down.lock().unwrap() = false;
    assert_eq!(mailer.deliver_pending(app.store.as_ref()).await.unwrap(), 1);
    assert_eq!(mailer.deliver_pending(app.store.as_ref()).await.unwrap(), 0, "sent once");
    let mails = got.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let mut rcpt = mails[0].rcpt.clone();
    rcpt.sort();
    assert_eq!(rcpt, vec!["cur@lipetsk.example.ru", "head@gryazi.example.ru"], "not Yelets");
    assert!(mails[0].data.contains("Subject: =?utf-8?"), "a Russian subject, encoded: {}", mails[0].data);
    assert!(mails[0].data.contains(&format!("{id}")));
}

#[test]
fn bad_settings_are_refused_without_showing_the_password() {
    let mut c = config("smtps://user:hunter2@".into());
    let e = Mailer::new(c.clone()).unwrap_err().to_string();
    assert!(!e.contains("hunter2"), "{e}");
    c.smtp = "smtp://127.0.0.1:25".into();
    c.to[0].addresses.push("not an address".into());
    let e = Mailer::new(c.clone()).unwrap_err().to_string();
    assert!(e.contains("not an address") && e.contains("adm-gryazinsky"), "{e}");
    assert!(!format!("{c:?}").contains("127.0.0.1"), "the SMTP address is not printed");
}

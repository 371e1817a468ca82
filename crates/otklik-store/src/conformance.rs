//! The storage conformance suite: behaviour every `Store` backend must show, written against the
//! trait only. Backends run it from their integration tests.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use otklik_core::StoreError;
use otklik_core::access::ScopeFilter;
use otklik_core::model::*;
use otklik_core::status::Status;
use otklik_core::store::{
    AnswerWrite, Change, IncidentQuery, NewIntakeReject, PublicationUpdate, SortKey, Store, StoredFile, TerritoryRef,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn territory(code: &str, level: TerritoryLevel, parent: Option<&str>) -> Territory {
    Territory {
        code: code.into(),
        name: format!("name of {code}"),
        full_name: format!("full name of {code}"),
        level,
        parent: parent.map(Into::into),
        zone: "Europe/Moscow".into(),
        oktmo: None,
        aliases: vec!["alias".into()],
    }
}

pub fn message(source: &str, ext: &str, text: &str) -> NewMessage {
    NewMessage {
        channel: Channel::Vk,
        source: source.into(),
        external_id: ext.into(),
        thread_id: Some("wall-1_5".into()),
        parent_id: None,
        author: Author { id: "vk:42".into(), name: Some("Иван".into()) },
        text: text.into(),
        attachments: vec![Attachment { kind: "photo".into(), url: "https://example.org/1.jpg".into(), name: None }],
        published_at: t0(),
        url: None,
        raw: serde_json::json!({"id": ext, "text": text}),
    }
}

pub fn seed(region: Option<&str>, muni: Option<&str>) -> IncidentSeed {
    IncidentSeed {
        classification: Classification {
            kind: Some(Kind::Complaint),
            category: Some("roads.surface.potholes".into()),
            territory: muni.map(Into::into),
            sentiment: Some(Sentiment::Negative),
            urgent: false,
            confidence: Some(Confidence { kind: 0.9, category: 0.8, territory: 0.7 }),
        },
        region: region.map(Into::into),
        municipality: muni.map(Into::into),
        org: None,
        suggested_org: Some("adm".into()),
        route_note: Some("правило".into()),
        first_answer_due: None,
        resolution_due: None,
        registration_due: None,
        redirect_due: None,
        deadline_policy: None,
        summary: "яма".into(),
        tags: vec!["tag".into()],
    }
}

fn all() -> ScopeFilter {
    ScopeFilter { all: true, ..Default::default() }
}

pub async fn reference_upserts_replace(s: &dyn Store) {
    s.upsert_territory(&territory("lip", TerritoryLevel::Region, None)).await.unwrap();
    let mut t = territory("yelets", TerritoryLevel::Municipality, Some("lip"));
    s.upsert_territory(&t).await.unwrap();
    t.name = "город Елец".into();
    s.upsert_territory(&t).await.unwrap();
    let all_t = s.territories().await.unwrap();
    assert_eq!(all_t.len(), 2);
    assert_eq!(all_t.iter().find(|x| x.code == "yelets").unwrap(), &t);

    let o = Organisation {
        code: "adm".into(),
        name: "Администрация".into(),
        kind: OrgKind::Administration,
        territory: "yelets".into(),
        parent: None,
        sectors: vec!["roads".into()],
        working_hours: Some("08:00-12:00,13:00-17:00".into()),
    };
    s.upsert_organisation(&o).await.unwrap();
    assert_eq!(s.organisations().await.unwrap(), vec![o]);
    let c = Category { code: "roads".into(), name: "Дороги".into(), photo_required: true, form_days: Some(10) };
    s.upsert_category(&c).await.unwrap();
    assert_eq!(s.categories().await.unwrap(), vec![c]);
    let src = Source {
        channel: Channel::Vk,
        key: "club1".into(),
        name: "Администрация".into(),
        territory: Some("yelets".into()),
        org: Some("adm".into()),
    };
    s.upsert_source(&src).await.unwrap();
    assert_eq!(s.sources().await.unwrap(), vec![src]);
    let mut rule = otklik_core::routing::RoutingRule {
        code: "roads-yelets".into(),
        category: Some("roads".into()),
        territory: Some("yelets".into()),
        channel: Some(Channel::Ok),
        kind: Some(Kind::Complaint),
        org: "adm".into(),
        co_executors: vec!["other".into()],
        priority: -3,
    };
    s.upsert_routing_rule(&rule).await.unwrap();
    rule.priority = 7;
    s.upsert_routing_rule(&rule).await.unwrap();
    assert_eq!(s.routing_rules().await.unwrap(), vec![rule]);
    assert!(s.delete_routing_rule("roads-yelets").await.unwrap());
    assert!(!s.delete_routing_rule("roads-yelets").await.unwrap());
    assert!(s.routing_rules().await.unwrap().is_empty());
    let policy: otklik_core::deadlines::DeadlinePolicy = serde_json::from_value(serde_json::json!({
        "code": "social", "channels": ["vk"], "urgent": true, "first_answer": "9wh",
        "first_answer_cap": "24h", "restart_on_redirect": false
    }))
    .unwrap();
    s.upsert_deadline_policy(&policy).await.unwrap();
    s.upsert_deadline_policy(&policy).await.unwrap();
    assert_eq!(s.deadline_policies().await.unwrap(), vec![policy]);
    assert!(s.delete_deadline_policy("social").await.unwrap());
    assert!(!s.delete_deadline_policy("social").await.unwrap());
}

pub async fn users_sessions_and_tokens(s: &dyn Store) {
    let nu = NewUser {
        login: "op".into(),
        display_name: "Оператор".into(),
        password_hash: Some("hash".into()),
        grants: vec![Grant { role: Role::MunicipalOperator, node: Some("yelets".into()) }],
    };
    let u = s.create_user(&nu, t0()).await.unwrap();
    assert_eq!(u.login, "op");
    assert_eq!(u.grants, nu.grants);
    assert!(matches!(s.create_user(&nu, t0()).await, Err(StoreError::Conflict(_))));
    let (by_login, hash) = s.user_by_login("op").await.unwrap().unwrap();
    assert_eq!(by_login, u);
    assert_eq!(hash.as_deref(), Some("hash"));
    assert!(s.user_by_login("nobody").await.unwrap().is_none());

    let sess = Session {
        token_hash: "th".into(),
        user_id: u.id,
        csrf_token: "csrf".into(),
        created_at: t0(),
        expires_at: t0() + Duration::hours(8),
    };
    s.create_session(&sess).await.unwrap();
    assert_eq!(s.session("th").await.unwrap(), Some(sess.clone()));
    let updated = s.update_user(u.id, Some("Новое имя"), None, Some("hash2"), Some(&[])).await.unwrap();
    assert_eq!(updated.display_name, "Новое имя");
    assert!(updated.grants.is_empty());
    assert_eq!(s.user_by_login("op").await.unwrap().unwrap().1.as_deref(), Some("hash2"));
    assert!(s.session("th").await.unwrap().is_some());
    // Deactivation ends every session.
    let off = s.update_user(u.id, None, Some(false), None, None).await.unwrap();
    assert!(!off.active);
    assert!(s.session("th").await.unwrap().is_none());
    assert!(matches!(s.update_user(999_999, None, None, None, None).await, Err(StoreError::NotFound)));

    let tok = s.create_token(u.id, "bot", "tokhash", t0(), None).await.unwrap();
    assert_eq!(s.token("tokhash").await.unwrap(), Some(tok));
    assert!(s.token("other").await.unwrap().is_none());
    s.create_session(&Session { token_hash: "x".into(), ..sess }).await.unwrap();
    s.delete_session("x").await.unwrap();
    assert!(s.session("x").await.unwrap().is_none());
}

pub async fn ingest_is_idempotent(s: &dyn Store) {
    let m = message("club1", "wall-1_7", "яма на Коммунаров");
    let a = s.ingest(&m, &seed(Some("lip"), Some("yelets")), t0()).await.unwrap();
    assert!(a.created);
    let mut again = m.clone();
    again.text = "другой текст той же доставки".into();
    let b = s.ingest(&again, &seed(None, None), t0()).await.unwrap();
    assert!(!b.created);
    assert_eq!((a.message_id, a.incident_id), (b.message_id, b.incident_id));
    let d = s.incident_detail(a.incident_id).await.unwrap().unwrap();
    assert_eq!(d.messages.len(), 1);
    assert_eq!(d.messages[0].body, m, "the message is stored exactly as first received");
    assert_eq!(d.incident.status, Status::New);
    assert_eq!(d.incident.region.as_deref(), Some("lip"));
    assert_eq!(d.incident.category.as_deref(), Some("roads.surface.potholes"));
    assert_eq!((d.incident.suggested_org.as_deref(), d.incident.route_note.as_deref()), (Some("adm"), Some("правило")));
    assert_eq!(d.history.len(), 1);
    assert_eq!(d.history[0].action, "intake");
    assert_eq!(s.count_incidents(&IncidentQuery::default(), &all()).await.unwrap(), 1);
    // The same external id from another source is another message.
    let c = s.ingest(&message("club2", "wall-1_7", "x"), &seed(None, None), t0()).await.unwrap();
    assert!(c.created);
    assert_ne!(c.incident_id, a.incident_id);
}

pub async fn concurrent_duplicate_ingest_creates_one(s: Arc<dyn Store>) {
    let before = s.count_incidents(&IncidentQuery::default(), &all()).await.unwrap();
    let mut handles = vec![];
    for _ in 0..16 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.ingest(&message("club-race", "race-1", "гонка"), &seed(None, None), t0()).await.unwrap()
        }));
    }
    let mut outcomes = vec![];
    for h in handles {
        outcomes.push(h.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.created).count(), 1);
    assert!(outcomes.windows(2).all(|w| w[0].incident_id == w[1].incident_id));
    assert_eq!(s.count_incidents(&IncidentQuery::default(), &all()).await.unwrap(), before + 1);
}

pub async fn revisions_keep_the_original(s: &dyn Store) {
    let m = message("club1", "edit-1", "исходный текст");
    let o = s.ingest(&m, &seed(None, None), t0()).await.unwrap();
    let rev = MessageRevision {
        kind: RevisionKind::Edit,
        text: Some("исправленный".into()),
        at: t0() + Duration::minutes(5),
    };
    assert_eq!(s.record_revision(Channel::Vk, "club1", "edit-1", &rev).await.unwrap(), Some(o.message_id));
    let del = MessageRevision { kind: RevisionKind::Delete, text: None, at: t0() + Duration::minutes(9) };
    s.record_revision(Channel::Vk, "club1", "edit-1", &del).await.unwrap();
    assert_eq!(s.record_revision(Channel::Vk, "club1", "missing", &rev).await.unwrap(), None);
    assert_eq!(s.message_by_key(Channel::Vk, "club1", "edit-1").await.unwrap(), Some((o.message_id, o.incident_id)));
    assert_eq!(s.message_by_key(Channel::Ok, "club1", "edit-1").await.unwrap(), None);
    let d = s.incident_detail(o.incident_id).await.unwrap().unwrap();
    assert_eq!(d.messages[0].body.text, "исходный текст");
    assert_eq!(d.messages[0].revisions, vec![rev, del]);
    let actions: Vec<_> = d.history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["intake", "message_edited", "message_deleted"]);
}

pub async fn lists_filter_scope_and_paginate(s: &dyn Store) {
    // 30 incidents over two municipalities, created a minute apart.
    for i in 0..30 {
        let muni = if i % 3 == 0 { "gryazi" } else { "yelets" };
        let mut sd = seed(Some("lip"), Some(muni));
        if i % 5 == 0 {
            sd.classification.category = Some("housing.heating".into());
        }
        s.ingest(&message("page", &format!("p-{i}"), "текст"), &sd, t0() + Duration::minutes(i)).await.unwrap();
    }
    let base = IncidentQuery { limit: 7, ..Default::default() };
    for sort in [SortKey::CreatedDesc, SortKey::CreatedAsc, SortKey::UpdatedDesc, SortKey::DueAsc] {
        let mut q = IncidentQuery { sort, ..base.clone() };
        let mut seen = vec![];
        loop {
            let page = s.list_incidents(&q, &all()).await.unwrap();
            assert!(page.items.len() <= 7);
            seen.extend(page.items.iter().map(|i| (i.created_at, i.id)));
            match page.next {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
        let total = s.count_incidents(&base, &all()).await.unwrap() as usize;
        assert_eq!(seen.len(), total, "{sort:?} visits every row once");
        let mut ids: Vec<_> = seen.iter().map(|x| x.1).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total);
        if sort == SortKey::CreatedDesc {
            assert!(seen.windows(2).all(|w| w[0] >= w[1]));
        }
        if sort == SortKey::CreatedAsc {
            assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        }
    }
    let scoped = ScopeFilter {
        territories: vec![TerritoryRef::new(TerritoryLevel::Municipality, "gryazi")],
        ..Default::default()
    };
    assert_eq!(s.count_incidents(&base, &scoped).await.unwrap(), 10);
    assert_eq!(s.count_incidents(&base, &ScopeFilter::default()).await.unwrap(), 0);
    let q = IncidentQuery { category: Some("housing".into()), ..base.clone() };
    assert_eq!(s.count_incidents(&q, &all()).await.unwrap(), 6);
    let q = IncidentQuery {
        category: Some("roads.surface".into()),
        territory: Some(TerritoryRef::new(TerritoryLevel::Municipality, "gryazi")),
        ..base.clone()
    };
    // Grjazi holds i = 0, 3, …, 27; of those only 0 and 15 are housing.
    assert_eq!(s.count_incidents(&q, &all()).await.unwrap(), 8);
    let q = IncidentQuery { statuses: vec![Status::Closed], ..base.clone() };
    assert_eq!(s.count_incidents(&q, &all()).await.unwrap(), 0);
    let q = IncidentQuery { text: Some("no such words 100%_".into()), ..base.clone() };
    assert_eq!(s.count_incidents(&q, &all()).await.unwrap(), 0, "LIKE wildcards in the text are literal");
    let q = IncidentQuery { text: Some("ям".into()), ..base.clone() };
    let everything = s.count_incidents(&IncidentQuery::default(), &all()).await.unwrap();
    assert_eq!(s.count_incidents(&q, &all()).await.unwrap(), everything, "every seed's summary is «яма»");
    let q = IncidentQuery { org: Some("nobody".into()), ..base.clone() };
    assert_eq!(s.count_incidents(&q, &all()).await.unwrap(), 0);
}

pub async fn apply_is_versioned_and_records_history(s: &dyn Store) {
    let o = s.ingest(&message("page", "apply-1", "текст"), &seed(Some("lip"), Some("yelets")), t0()).await.unwrap();
    let inc = s.incident(o.incident_id).await.unwrap().unwrap();
    let mut next = inc.clone();
    next.status = Status::InWork;
    next.org = Some("adm".into());
    next.first_answer_due = Some(t0() + Duration::hours(9));
    let now = t0() + Duration::hours(1);
    next.updated_at = now;
    let answer = Answer {
        id: 0,
        incident_id: inc.id,
        kind: AnswerKind::Final,
        text: "Яму заделаем".into(),
        state: AnswerState::Draft,
        author_id: None,
        reviewer_id: None,
        return_reason: None,
        return_comment: None,
        attachments: vec![],
        created_at: now,
        updated_at: now,
        published_at: None,
        publications: vec![],
    };
    let event = NewEvent {
        at: now,
        actor_id: None,
        actor: "t".into(),
        action: "take".into(),
        changes: vec![],
        note: Some("n".into()),
    };
    let change = Change {
        expected_version: inc.version,
        incident: next.clone(),
        answer: Some(AnswerWrite::Insert(answer)),
        notifications: vec![],
        merge: None,
        event,
    };
    let out = s.apply(&change).await.unwrap();
    assert_eq!(out.version, inc.version + 1);
    assert_eq!(out.status, Status::InWork);
    assert_eq!(out.first_answer_due, next.first_answer_due);
    // A stale version is refused and changes nothing.
    assert!(matches!(s.apply(&change).await, Err(StoreError::Concurrent)));
    assert_eq!(s.incident(inc.id).await.unwrap().unwrap(), out);
    let mut answers = s.answers(inc.id).await.unwrap();
    assert_eq!(answers.len(), 1);
    let mut a = answers.remove(0);
    a.state = AnswerState::Published;
    a.published_at = Some(now);
    let mut publication = Publication {
        id: 0,
        channel: Channel::Vk,
        target: "page:apply-1".into(),
        message_id: Some(o.message_id),
        state: PublicationState::Pending,
        attempts: 0,
        last_error: None,
        next_attempt_at: Some(now),
        external_id: None,
        updated_at: now,
    };
    let change2 = Change {
        expected_version: out.version,
        incident: out.clone(),
        answer: Some(AnswerWrite::Update { answer: a.clone(), new_publications: vec![publication.clone()] }),
        notifications: vec![],
        merge: None,
        event: NewEvent {
            at: now,
            actor_id: Some(7),
            actor: "u".into(),
            action: "publish_final".into(),
            changes: vec![],
            note: None,
        },
    };
    s.apply(&change2).await.unwrap();
    let d = s.incident_detail(inc.id).await.unwrap().unwrap();
    assert_eq!(d.answers[0].state, AnswerState::Published);
    assert!(d.answers[0].publications[0].id > 0);
    publication.id = d.answers[0].publications[0].id;
    assert_eq!(d.answers[0].publications, vec![publication]);
    outbox_claims_retries_and_finishes(s, inc.id, o.message_id, now).await;
    let actions: Vec<_> = d.history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["intake", "take", "publish_final"]);
    assert_eq!(d.history[2].actor_id, Some(7));
    // Only moderated incidents give corrections; the labels are the incident's after moderation.
    assert!(s.corrections().await.unwrap().iter().all(|c| c.incident_id != inc.id));
    let cur = s.incident(inc.id).await.unwrap().unwrap();
    let mut moderated = cur.clone();
    moderated.kind = Some(Kind::Question);
    moderated.category = Some("waste.containers".into());
    s.apply(&Change {
        expected_version: cur.version,
        incident: moderated,
        answer: None,
        notifications: vec![],
        merge: None,
        event: NewEvent {
            at: now,
            actor_id: Some(7),
            actor: "u".into(),
            action: "moderate".into(),
            changes: vec![],
            note: None,
        },
    })
    .await
    .unwrap();
    let corr: Vec<_> = s.corrections().await.unwrap().into_iter().filter(|c| c.incident_id == inc.id).collect();
    assert_eq!(corr.len(), 1);
    assert_eq!(
        (corr[0].kind, corr[0].category.as_deref(), corr[0].text.as_str()),
        (Some(Kind::Question), Some("waste.containers"), "текст")
    );
    // Overdue: the first-answer deadline passed and nothing was answered.
    let late = IncidentQuery { overdue: Some(true), now: Some(t0() + Duration::hours(10)), ..Default::default() };
    assert_eq!(s.list_incidents(&late, &all()).await.unwrap().items.iter().filter(|i| i.id == inc.id).count(), 1);
    let early = IncidentQuery { overdue: Some(true), now: Some(t0() + Duration::hours(2)), ..Default::default() };
    assert!(s.list_incidents(&early, &all()).await.unwrap().items.iter().all(|i| i.id != inc.id));
    // Deadline recomputation: unfinished incidents are listed by id and updated in bulk, skipping
    // rows whose version moved.
    let rows = s.open_deadline_rows(0, 1000).await.unwrap();
    let row = rows.iter().find(|r| r.id == inc.id).expect("the incident is unfinished");
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
    let due = t0() + Duration::hours(30);
    let update = otklik_core::store::DeadlineUpdate {
        id: row.id,
        version: row.version,
        first_answer_due: Some(due),
        resolution_due: None,
        registration_due: Some(due - Duration::hours(2)),
        redirect_due: Some(due + Duration::days(7)),
        next_due: Some(due),
        next_warn: Some(due - Duration::hours(1)),
        next_breach: Some(due),
    };
    let stale = otklik_core::store::DeadlineUpdate { version: row.version - 1, ..update.clone() };
    assert_eq!(s.update_deadlines(&[stale]).await.unwrap(), 0);
    assert_eq!(s.update_deadlines(&[update]).await.unwrap(), 1);
    let moved = s.incident(inc.id).await.unwrap().unwrap();
    assert_eq!(moved.first_answer_due, Some(due));
    assert_eq!(
        (moved.registration_due, moved.redirect_due),
        (Some(due - Duration::hours(2)), Some(due + Duration::days(7)))
    );
    assert!(s.due_breaches(due + Duration::minutes(1), 100).await.unwrap().iter().any(|i| i.id == inc.id));
    assert!(!s.due_breaches(due - Duration::minutes(1), 100).await.unwrap().iter().any(|i| i.id == inc.id));
    assert!(s.due_warnings(due - Duration::minutes(30), 100).await.unwrap().iter().any(|i| i.id == inc.id));
    let out = s.incident(inc.id).await.unwrap().unwrap();
    assert!(matches!(
        s.apply(&Change {
            expected_version: 1,
            incident: Incident { id: 987_654, ..out },
            answer: None,
            notifications: vec![],
            merge: None,
            event: change.event.clone()
        })
        .await,
        Err(StoreError::NotFound)
    ));
}

/// The outbox entry of the incident's published answer: claimed once, retried on schedule, leases
/// expire, and a sent entry is never claimed again.
async fn outbox_claims_retries_and_finishes(s: &dyn Store, incident_id: Id, message_id: Id, now: DateTime<Utc>) {
    let lease = now + Duration::minutes(5);
    let claimed = s.claim_publications(now, lease, 10).await.unwrap();
    let mine: Vec<_> = claimed.iter().filter(|e| e.incident_id == incident_id).collect();
    assert_eq!(mine.len(), 1);
    let e = mine[0].clone();
    assert_eq!(e.text, "Яму заделаем");
    assert_eq!(e.publication.message_id, Some(message_id));
    assert_eq!(s.message(message_id).await.unwrap().unwrap().body.external_id, "apply-1");
    // Leased: a second worker gets nothing until the lease expires.
    assert!(s.claim_publications(now, lease, 10).await.unwrap().iter().all(|x| x.incident_id != incident_id));
    let after_lease = lease + Duration::seconds(1);
    let again = s.claim_publications(after_lease, after_lease + Duration::minutes(5), 10).await.unwrap();
    assert!(again.iter().any(|x| x.publication.id == e.publication.id));
    // A failure is retried no sooner than scheduled.
    let retry_at = after_lease + Duration::minutes(2);
    s.finish_publication(
        e.publication.id,
        &PublicationUpdate {
            state: PublicationState::Failed,
            attempts: 1,
            last_error: Some("flood control".into()),
            next_attempt_at: Some(retry_at),
            external_id: None,
            at: after_lease,
        },
    )
    .await
    .unwrap();
    let early = s.claim_publications(retry_at - Duration::seconds(1), retry_at + Duration::minutes(5), 10);
    assert!(early.await.unwrap().iter().all(|x| x.publication.id != e.publication.id));
    let due = s.claim_publications(retry_at, retry_at + Duration::minutes(5), 10).await.unwrap();
    let got = due.iter().find(|x| x.publication.id == e.publication.id).unwrap();
    assert_eq!(got.publication.state, PublicationState::Failed);
    assert_eq!(got.publication.attempts, 1);
    assert_eq!(got.publication.last_error.as_deref(), Some("flood control"));
    s.finish_publication(
        e.publication.id,
        &PublicationUpdate {
            state: PublicationState::Sent,
            attempts: 2,
            last_error: None,
            next_attempt_at: None,
            external_id: Some("reply-9".into()),
            at: retry_at,
        },
    )
    .await
    .unwrap();
    let later = retry_at + Duration::days(1);
    assert!(s.claim_publications(later, later, 10).await.unwrap().iter().all(|x| x.publication.id != e.publication.id));
    let sent = s.outbox(&all(), &[PublicationState::Sent], None, 10).await.unwrap();
    let got = sent.iter().find(|x| x.publication.id == e.publication.id).unwrap();
    assert_eq!(got.publication.external_id.as_deref(), Some("reply-9"));
    assert_eq!(got.publication.next_attempt_at, None);
    assert!(s.outbox(&ScopeFilter::default(), &[], None, 10).await.unwrap().is_empty());
    assert!(
        s.outbox(&all(), &[PublicationState::Dead], None, 10)
            .await
            .unwrap()
            .iter()
            .all(|x| x.publication.id != e.publication.id)
    );
    assert_eq!(s.outbox_entry(e.publication.id).await.unwrap().unwrap().publication.state, PublicationState::Sent);
    assert!(matches!(
        s.finish_publication(
            987_654,
            &PublicationUpdate {
                state: PublicationState::Sent,
                attempts: 1,
                last_error: None,
                next_attempt_at: None,
                external_id: None,
                at: later
            }
        )
        .await,
        Err(StoreError::NotFound)
    ));
}

/// Merging moves a duplicate's messages into the other incident, in one transaction, and never
/// into a finished one.
pub async fn merge_moves_messages(s: &dyn Store) {
    let a = s.ingest(&message("m", "merge-a", "яма"), &seed(Some("lip"), Some("yelets")), t0()).await.unwrap();
    let b = s.ingest(&message("m", "merge-b", "та же яма"), &seed(Some("lip"), Some("yelets")), t0()).await.unwrap();
    let target_before = s.incident(a.incident_id).await.unwrap().unwrap();
    let dup = s.incident(b.incident_id).await.unwrap().unwrap();
    let ev = |action: &str| NewEvent {
        at: t0() + Duration::minutes(5),
        actor_id: Some(3),
        actor: "u".into(),
        action: action.into(),
        changes: vec![],
        note: None,
    };
    let change = |into: Id, version: i64| Change {
        expected_version: version,
        incident: Incident { status: Status::Rejected, ..dup.clone() },
        answer: None,
        notifications: vec![],
        event: ev("merge"),
        merge: Some(otklik_core::store::MergeInto { into, event: ev("merged") }),
    };
    s.apply(&change(a.incident_id, dup.version)).await.unwrap();
    let target = s.incident_detail(a.incident_id).await.unwrap().unwrap();
    let ids: Vec<&str> = target.messages.iter().map(|m| m.body.external_id.as_str()).collect();
    assert_eq!(ids, vec!["merge-a", "merge-b"]);
    assert_eq!(target.incident.version, target_before.version + 1);
    assert_eq!(target.history.last().unwrap().action, "merged");
    let gone = s.incident_detail(b.incident_id).await.unwrap().unwrap();
    assert!(gone.messages.is_empty());
    assert_eq!(gone.incident.status, Status::Rejected);
    // Into a finished incident: refused, and nothing moves.
    let c = s.ingest(&message("m", "merge-c", "ещё"), &seed(Some("lip"), Some("yelets")), t0()).await.unwrap();
    let dup = s.incident(c.incident_id).await.unwrap().unwrap();
    let finished = Change {
        expected_version: dup.version,
        incident: Incident { status: Status::Rejected, ..dup.clone() },
        answer: None,
        notifications: vec![],
        event: ev("merge"),
        merge: Some(otklik_core::store::MergeInto { into: b.incident_id, event: ev("merged") }),
    };
    assert!(matches!(s.apply(&finished).await, Err(StoreError::Conflict(_))));
    let still = s.incident_detail(c.incident_id).await.unwrap().unwrap();
    assert_eq!((still.incident.status, still.messages.len()), (Status::New, 1));
}

/// Co-executing organisations see the incident through the scope filter, and stop seeing it when
/// removed; the deadline details round-trip.
pub async fn co_executors_are_in_scope(s: &dyn Store) {
    let a = s.ingest(&message("m", "co-a", "яма"), &seed(Some("lip"), Some("yelets")), t0()).await.unwrap();
    let inc = s.incident(a.incident_id).await.unwrap().unwrap();
    let ev = |changes: Vec<FieldChange>| NewEvent {
        at: t0() + Duration::minutes(5),
        actor_id: Some(3),
        actor: "u".into(),
        action: "add_co_executor".into(),
        changes,
        note: None,
    };
    let field = |before: &Incident, after: &Incident| FieldChange {
        field: "co_orgs".into(),
        before: serde_json::json!(before.co_orgs),
        after: serde_json::json!(after.co_orgs),
    };
    let with = Incident {
        org: Some("lead".into()),
        co_orgs: vec!["water".into(), "roads".into()],
        clock_started_at: Some(t0() + Duration::hours(1)),
        extended_at: Some(t0() + Duration::hours(2)),
        ..inc.clone()
    };
    let change = |before: &Incident, after: &Incident| Change {
        expected_version: before.version,
        incident: after.clone(),
        answer: None,
        notifications: vec![],
        merge: None,
        event: ev(vec![field(before, after)]),
    };
    let stored = s.apply(&change(&inc, &with)).await.unwrap();
    assert_eq!(stored.co_orgs, vec!["water".to_string(), "roads".to_string()]);
    assert_eq!(stored.clock_started_at, Some(t0() + Duration::hours(1)));
    assert_eq!(stored.extended_at, Some(t0() + Duration::hours(2)));
    let of = |org: &str| ScopeFilter { orgs: vec![org.into()], ..Default::default() };
    let sees = |list: Vec<Incident>| list.iter().any(|i| i.id == inc.id);
    let q = IncidentQuery::default();
    for org in ["lead", "water", "roads"] {
        assert!(sees(s.list_incidents(&q, &of(org)).await.unwrap().items), "{org} sees it");
    }
    assert!(!sees(s.list_incidents(&q, &of("other")).await.unwrap().items));
    assert_eq!(s.count_incidents(&q, &of("water")).await.unwrap(), 1);
    let without = Incident { co_orgs: vec!["roads".into()], ..stored.clone() };
    s.apply(&change(&stored, &without)).await.unwrap();
    assert!(!sees(s.list_incidents(&q, &of("water")).await.unwrap().items), "removed co-executor");
    assert!(sees(s.list_incidents(&q, &of("roads")).await.unwrap().items));
}

/// An organisation's queue merges the incidents it leads with those it co-executes, in the sort
/// order, page after page, each once (also when the scope both leads and co-executes one).
pub async fn organisation_queue_merges_co_executed(s: &dyn Store) {
    // (lead, co-executors, hours to the deadline)
    let plan: [(&str, &[&str], i64); 6] = [
        ("q-ops", &[], 1),
        ("q-x", &["q-ops"], 2),
        ("q-ops", &["q-aux"], 3),
        ("q-aux", &["q-ops"], 4),
        ("q-x", &[], 5),
        ("q-ops", &[], 6),
    ];
    let mut ids = vec![];
    for (n, (lead, co, hours)) in plan.iter().enumerate() {
        let mut sd = seed(Some("lip"), Some("yelets"));
        sd.org = Some(lead.to_string());
        sd.first_answer_due = Some(t0() + Duration::hours(100 + hours));
        let at = t0() + Duration::minutes(n as i64);
        let o = s.ingest(&message("orgq", &format!("oq-{n}"), "текст"), &sd, at).await.unwrap();
        if !co.is_empty() {
            let inc = s.incident(o.incident_id).await.unwrap().unwrap();
            let with = Incident { co_orgs: co.iter().map(|c| c.to_string()).collect(), ..inc.clone() };
            s.apply(&Change {
                expected_version: inc.version,
                incident: with,
                answer: None,
                notifications: vec![],
                merge: None,
                event: NewEvent {
                    at,
                    actor_id: None,
                    actor: "u".into(),
                    action: "add_co_executor".into(),
                    changes: vec![FieldChange {
                        field: "co_orgs".into(),
                        before: serde_json::json!([]),
                        after: serde_json::json!(co),
                    }],
                    note: None,
                },
            })
            .await
            .unwrap();
        }
        ids.push(o.incident_id);
    }
    let expect = |picks: &[usize]| picks.iter().map(|&n| ids[n]).collect::<Vec<_>>();
    for (orgs, sort, expected) in [
        (vec!["q-ops"], SortKey::DueAsc, expect(&[0, 1, 2, 3, 5])),
        (vec!["q-ops", "q-aux"], SortKey::DueAsc, expect(&[0, 1, 2, 3, 5])),
        (vec!["q-x"], SortKey::DueAsc, expect(&[1, 4])),
        (vec!["q-ops"], SortKey::CreatedDesc, expect(&[5, 3, 2, 1, 0])),
    ] {
        let scope = ScopeFilter { orgs: orgs.iter().map(|o| o.to_string()).collect(), ..Default::default() };
        let mut q = IncidentQuery { sort, limit: 2, ..Default::default() };
        let mut seen = vec![];
        loop {
            let page = s.list_incidents(&q, &scope).await.unwrap();
            assert!(page.items.len() <= 2);
            seen.extend(page.items.iter().map(|i| i.id));
            match page.next {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, expected, "{orgs:?} by {sort:?}");
        assert_eq!(s.count_incidents(&q, &scope).await.unwrap() as usize, expected.len());
    }
}

/// Splitting moves one message into a new incident, with an event in each history and both
/// versions moved, in one transaction; never the only message, another incident's message, from
/// a finished incident, or over a stale version.
pub async fn split_moves_one_message(s: &dyn Store) {
    let a = s.ingest(&message("sp", "split-a", "яма"), &seed(Some("lip"), Some("yelets")), t0()).await.unwrap();
    let b = s.ingest(&message("sp", "split-b", "свалка"), &seed(Some("lip"), Some("yelets")), t0()).await.unwrap();
    let ev = |action: &str, note: &str| NewEvent {
        at: t0() + Duration::minutes(5),
        actor_id: Some(3),
        actor: "u".into(),
        action: action.into(),
        changes: vec![],
        note: Some(note.into()),
    };
    let dup = s.incident(b.incident_id).await.unwrap().unwrap();
    s.apply(&Change {
        expected_version: dup.version,
        incident: Incident { status: Status::Rejected, ..dup.clone() },
        answer: None,
        notifications: vec![],
        event: ev("merge", ""),
        merge: Some(otklik_core::store::MergeInto { into: a.incident_id, event: ev("merged", "") }),
    })
    .await
    .unwrap();
    let source = s.incident(a.incident_id).await.unwrap().unwrap();
    let mut new_seed = seed(Some("lip"), Some("gryazi"));
    new_seed.classification.category = Some("waste.containers".into());
    new_seed.summary = "свалка".into();
    new_seed.first_answer_due = Some(t0() + Duration::hours(10));
    let at = t0() + Duration::minutes(10);
    let split = |message: Id, incident: Id, version: i64| otklik_core::store::SplitOff {
        incident,
        expected_version: version,
        message,
        summary: "яма (осталась)".into(),
        seed: new_seed.clone(),
        at,
        event: ev("split", &format!("выделено в № {}", otklik_core::store::NEW_INCIDENT)),
        new_event: ev("split_from", "из № 1"),
    };
    // A stale version changes nothing.
    assert!(matches!(
        s.split(&split(b.message_id, a.incident_id, source.version - 1)).await,
        Err(StoreError::Concurrent)
    ));
    let out = s.split(&split(b.message_id, a.incident_id, source.version)).await.unwrap();
    assert_eq!(out.source.id, a.incident_id);
    assert_eq!(out.source.version, source.version + 1);
    assert_eq!(out.source.updated_at, at);
    assert_eq!(out.source.summary, "яма (осталась)");
    let created = &out.created;
    assert_ne!(created.id, a.incident_id);
    assert_ne!(created.id, b.incident_id);
    assert_eq!((created.status, created.version), (Status::New, 1));
    assert_eq!(created.category.as_deref(), Some("waste.containers"));
    assert_eq!(created.municipality.as_deref(), Some("gryazi"));
    assert_eq!((created.summary.as_str(), created.created_at), ("свалка", at));
    assert_eq!(created.first_answer_due, Some(t0() + Duration::hours(10)));
    assert_eq!(created.channel, Channel::Vk);
    let left = s.incident_detail(a.incident_id).await.unwrap().unwrap();
    let ids: Vec<&str> = left.messages.iter().map(|m| m.body.external_id.as_str()).collect();
    assert_eq!(ids, vec!["split-a"]);
    let last = left.history.last().unwrap();
    assert_eq!(last.action, "split");
    assert_eq!(last.note.as_deref(), Some(format!("выделено в № {}", created.id).as_str()));
    let new = s.incident_detail(created.id).await.unwrap().unwrap();
    assert_eq!(new.messages.len(), 1);
    assert_eq!(new.messages[0].id, b.message_id);
    assert_eq!(new.messages[0].body.text, "свалка", "the message moves whole");
    assert_eq!(new.history.len(), 1);
    assert_eq!(new.history[0].action, "split_from");
    assert_eq!(s.message_by_key(Channel::Vk, "sp", "split-b").await.unwrap(), Some((b.message_id, created.id)));
    assert!(
        s.list_incidents(&IncidentQuery { limit: 100, ..Default::default() }, &all())
            .await
            .unwrap()
            .items
            .iter()
            .any(|i| i.id == created.id)
    );
    // The only message stays; another incident's message is refused; nothing moves.
    let v = out.source.version;
    assert!(matches!(s.split(&split(a.message_id, a.incident_id, v)).await, Err(StoreError::Conflict(_))));
    assert!(matches!(s.split(&split(b.message_id, a.incident_id, v)).await, Err(StoreError::Conflict(_))));
    let still = s.incident_detail(a.incident_id).await.unwrap().unwrap();
    assert_eq!((still.incident.version, still.messages.len()), (v, 1));
    // Nothing leaves a finished incident.
    let gone = s.incident(b.incident_id).await.unwrap().unwrap();
    assert!(matches!(s.split(&split(b.message_id, b.incident_id, gone.version)).await, Err(StoreError::Conflict(_))));
}

/// Answer templates: seeded by the migration, kept in order, names unique, edited and deleted by id.
pub async fn answer_templates_are_kept(s: &dyn Store) {
    let seeded = s.answer_templates().await.unwrap();
    let names: Vec<&str> = seeded.iter().map(|t| t.body.name.as_str()).collect();
    assert_eq!(names, vec!["Принято в работу", "Работы запланированы", "Работы выполнены", "Уточнение"]);
    assert!(seeded[0].body.text.contains("{номер}") && seeded[0].body.text.contains("{организация}"));
    let new = |name: &str, position: i32| NewAnswerTemplate {
        name: name.into(),
        text: format!("{name}: № {{номер}}"),
        position,
    };
    let first = s.create_answer_template(&new("Сначала", -5)).await.unwrap();
    assert_eq!(first.body, new("Сначала", -5));
    assert!(matches!(s.create_answer_template(&new("Сначала", 1)).await, Err(StoreError::Conflict(_))));
    let all = s.answer_templates().await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].id, first.id, "smallest position first");
    let moved = s.update_answer_template(first.id, &new("В конце", 100)).await.unwrap();
    assert_eq!((moved.id, moved.body.name.as_str()), (first.id, "В конце"));
    assert_eq!(s.answer_templates().await.unwrap().last().unwrap(), &moved);
    assert!(matches!(s.update_answer_template(first.id, &new("Уточнение", 1)).await, Err(StoreError::Conflict(_))));
    assert!(matches!(s.update_answer_template(999_999, &new("x", 1)).await, Err(StoreError::NotFound)));
    assert!(s.delete_answer_template(first.id).await.unwrap());
    assert!(!s.delete_answer_template(first.id).await.unwrap());
    assert_eq!(s.answer_templates().await.unwrap(), seeded);
}

/// Rejected deliveries are kept newest first; polling cursors are kept per source.
pub async fn rejects_and_cursors(s: &dyn Store) {
    for (i, reason) in ["malformed_payload: not JSON", "forbidden_webhook: wrong secret"].iter().enumerate() {
        let r = NewIntakeReject {
            channel: Channel::Telegram,
            source: "bot".into(),
            received_at: t0() + Duration::seconds(i as i64),
            reason: (*reason).into(),
            body: format!("{{\"broken\": {i}"),
        };
        s.record_reject(&r).await.unwrap();
    }
    let all = s.rejects(None, 10).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].reject.reason.starts_with("forbidden_webhook"));
    assert_eq!(all[1].reject.body, "{\"broken\": 0");
    assert_eq!(s.rejects(Some(all[0].id), 10).await.unwrap().len(), 1);
    assert_eq!(s.channel_cursor(Channel::Vk, "club").await.unwrap(), None);
    s.set_channel_cursor(Channel::Vk, "club", "ts=1", t0()).await.unwrap();
    s.set_channel_cursor(Channel::Vk, "club", "ts=2", t0()).await.unwrap();
    s.set_channel_cursor(Channel::Telegram, "club", "7", t0()).await.unwrap();
    assert_eq!(s.channel_cursor(Channel::Vk, "club").await.unwrap().as_deref(), Some("ts=2"));
    assert_eq!(s.channel_cursor(Channel::Telegram, "club").await.unwrap().as_deref(), Some("7"));
    // Files keep their bytes exactly; a name is taken once.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let f = StoredFile { name: "f1.jpg".into(), content_type: "image/jpeg".into(), bytes, created_at: t0() };
    s.put_file(&f).await.unwrap();
    assert_eq!(s.file("f1.jpg").await.unwrap(), Some(f.clone()));
    assert!(matches!(s.put_file(&f).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.file("nope").await.unwrap(), None);
}

/// The overview counts what was created since a moment, within a scope.
pub async fn overview_counts(s: &dyn Store) {
    let scope = ScopeFilter {
        territories: vec![TerritoryRef::new(TerritoryLevel::Municipality, "ov-m")],
        ..Default::default()
    };
    let since = t0() + Duration::days(30);
    for i in 0..5 {
        let mut sd = seed(Some("lip"), Some("ov-m"));
        if i < 2 {
            sd.classification.category = Some("waste.containers".into());
        }
        // Four within the period, one before it.
        let at = if i == 4 { since - Duration::days(1) } else { since + Duration::hours(i) };
        s.ingest(&message("ov", &format!("ov-{i}"), "текст"), &sd, at).await.unwrap();
    }
    let o = s.overview(&scope, since, since + Duration::days(2)).await.unwrap();
    assert_eq!(o.total, 4);
    assert_eq!(o.by_status, vec![(Status::New, 4)]);
    assert_eq!(o.by_municipality, vec![(Some("ov-m".to_string()), 4, 0)]);
    assert_eq!(o.by_category[0], (Some("roads.surface.potholes".to_string()), 2));
    assert!(o.by_category.contains(&(Some("waste.containers".to_string()), 2)));
    assert!(o.first_answer_seconds.is_empty());
    let none = s.overview(&ScopeFilter::default(), since, since).await.unwrap();
    assert_eq!(none.total, 0, "an empty scope sees nothing");
}

/// Stored calendar years: put replaces, list is ascending, delete says whether there was one; a
/// reference replacement swaps every reference table (and the years, when given) in one
/// transaction, and a failing one leaves everything as it was.
pub async fn calendar_years_and_reference_replacement(s: &dyn Store) {
    use otklik_core::store::StoredCalendarYear;
    let year = |y: i32, text: &str| StoredCalendarYear {
        year: y,
        text: text.into(),
        updated_at: t0(),
        updated_by: Some("admin".into()),
    };
    assert!(s.calendar_years().await.unwrap().is_empty());
    assert_eq!(s.calendar_year(2026).await.unwrap(), None);
    s.put_calendar_year(&year(2026, "year = 2026 # first")).await.unwrap();
    let mut edited = year(2026, "year = 2026 # second");
    edited.updated_at = t0() + Duration::hours(1);
    edited.updated_by = None;
    s.put_calendar_year(&edited).await.unwrap();
    s.put_calendar_year(&year(2028, "year = 2028")).await.unwrap();
    assert_eq!(s.calendar_year(2026).await.unwrap(), Some(edited.clone()));
    let years: Vec<i32> = s.calendar_years().await.unwrap().iter().map(|y| y.year).collect();
    assert_eq!(years, vec![2026, 2028]);
    assert!(s.delete_calendar_year(2028).await.unwrap());
    assert!(!s.delete_calendar_year(2028).await.unwrap());
    assert_eq!(s.calendar_years().await.unwrap(), vec![edited.clone()]);

    let mut data = otklik_core::reference::ReferenceData {
        territories: vec![territory("arh", TerritoryLevel::Region, None)],
        organisations: vec![Organisation {
            code: "adm-arh".into(),
            name: "Правительство".into(),
            kind: OrgKind::Administration,
            territory: "arh".into(),
            parent: None,
            sectors: vec![],
            working_hours: None,
        }],
        categories: vec![Category {
            code: "waste".into(), name: "ТКО".into(), photo_required: false, form_days: None
        }],
        ..Default::default()
    };
    s.replace_reference(&data, None).await.unwrap();
    assert_eq!(s.territories().await.unwrap(), data.territories);
    assert_eq!(s.organisations().await.unwrap(), data.organisations);
    assert_eq!(s.categories().await.unwrap(), data.categories);
    assert!(s.sources().await.unwrap().is_empty() && s.routing_rules().await.unwrap().is_empty());
    assert_eq!(s.calendar_years().await.unwrap(), vec![edited], "no calendar given: the years stay");

    // A duplicate code fails inside the transaction: nothing of the new set is kept.
    let mut bad = data.clone();
    bad.territories.push(territory("new", TerritoryLevel::Region, None));
    bad.organisations.push(bad.organisations[0].clone());
    assert!(s.replace_reference(&bad, Some(&[year(2030, "year = 2030")])).await.is_err());
    assert_eq!(s.territories().await.unwrap(), data.territories);
    assert_eq!(s.calendar_years().await.unwrap().len(), 1);

    data.territories.push(territory("new", TerritoryLevel::Region, None));
    s.replace_reference(&data, Some(&[year(2027, "year = 2027")])).await.unwrap();
    assert_eq!(s.territories().await.unwrap().len(), 2);
    assert_eq!(s.calendar_years().await.unwrap(), vec![year(2027, "year = 2027")]);
}

/// A page of many deadline updates is written whole (PostgreSQL writes it in parts side by side),
/// each row with its own values, a stale one skipped.
pub async fn deadline_pages_are_written_whole(s: &dyn Store) {
    let mut ids = vec![];
    for n in 0..7 {
        let o = s.ingest(&message("bulk", &format!("dl-{n}"), "яма"), &seed(Some("lip"), Some("yelets")), t0()).await;
        ids.push(o.unwrap().incident_id);
    }
    let rows: Vec<_> =
        s.open_deadline_rows(0, 100_000).await.unwrap().into_iter().filter(|r| ids.contains(&r.id)).collect();
    assert_eq!(rows.len(), ids.len());
    let due = |n: usize| t0() + Duration::hours(50) + Duration::minutes(n as i64);
    let updates: Vec<_> = rows
        .iter()
        .enumerate()
        .map(|(n, r)| otklik_core::store::DeadlineUpdate {
            id: r.id,
            // The last one is stale: its version has moved on since it was read.
            version: if n == rows.len() - 1 { r.version - 1 } else { r.version },
            first_answer_due: Some(due(n)),
            resolution_due: Some(due(n) + Duration::days(1)),
            registration_due: None,
            redirect_due: None,
            next_due: Some(due(n)),
            next_warn: Some(due(n) - Duration::hours(1)),
            next_breach: Some(due(n)),
        })
        .collect();
    assert_eq!(s.update_deadlines(&updates).await.unwrap(), rows.len() as u64 - 1);
    for (n, r) in rows.iter().enumerate() {
        let stored = s.incident(r.id).await.unwrap().unwrap();
        if n == rows.len() - 1 {
            assert_eq!(stored.first_answer_due, r.first_answer_due, "the stale row is left alone");
        } else {
            assert_eq!(
                (stored.first_answer_due, stored.resolution_due),
                (Some(due(n)), Some(due(n) + Duration::days(1)))
            );
        }
    }
    assert_eq!(s.update_deadlines(&[]).await.unwrap(), 0);
}

/// An incident's deadlines and the keys its queues sort by follow every change of the incident:
/// a new route and a new deadline show in the lists by deadline of the new municipality and
/// organisation, in the overdue filter, and in the version recomputation checks.
pub async fn deadlines_follow_the_incident(s: &dyn Store) {
    let mut sd = seed(Some("lip"), Some("dl-from"));
    sd.first_answer_due = Some(t0() + Duration::hours(200));
    let o = s.ingest(&message("follow", "fl-1", "яма"), &sd, t0()).await.unwrap();
    let before = s.incident(o.incident_id).await.unwrap().unwrap();
    assert_eq!(before.first_answer_due, sd.first_answer_due);
    let moved_to = t0() + Duration::hours(210);
    let after = Incident {
        municipality: Some("dl-to".into()),
        org: Some("dl-org".into()),
        first_answer_due: Some(moved_to),
        ..before.clone()
    };
    let stored = s
        .apply(&Change {
            expected_version: before.version,
            incident: after,
            answer: None,
            notifications: vec![],
            merge: None,
            event: NewEvent {
                at: t0() + Duration::hours(1),
                actor_id: None,
                actor: "u".into(),
                action: "redirect".into(),
                changes: vec![],
                note: None,
            },
        })
        .await
        .unwrap();
    assert_eq!(stored.first_answer_due, Some(moved_to));
    let by_due = |scope: ScopeFilter, overdue: Option<bool>, now: DateTime<Utc>| async move {
        let q = IncidentQuery { sort: SortKey::DueAsc, overdue, now: Some(now), limit: 50, ..Default::default() };
        let listed: Vec<Id> = s.list_incidents(&q, &scope).await.unwrap().items.iter().map(|i| i.id).collect();
        (listed.contains(&o.incident_id), s.count_incidents(&q, &scope).await.unwrap())
    };
    let muni = |code: &str| ScopeFilter {
        territories: vec![TerritoryRef::new(TerritoryLevel::Municipality, code)],
        ..Default::default()
    };
    let org = ScopeFilter { orgs: vec!["dl-org".into()], ..Default::default() };
    let at = t0() + Duration::hours(205);
    assert_eq!(by_due(muni("dl-to"), None, at).await, (true, 1));
    assert_eq!(by_due(muni("dl-from"), None, at).await, (false, 0));
    assert_eq!(by_due(org.clone(), None, at).await, (true, 1));
    // Due at 210 h: not overdue at 205 h, overdue at 211 h.
    assert_eq!(by_due(org.clone(), Some(true), at).await, (false, 0));
    assert_eq!(by_due(org.clone(), Some(false), at).await, (true, 1));
    assert_eq!(by_due(org, Some(true), t0() + Duration::hours(211)).await, (true, 1));
    let row = s.open_deadline_rows(o.incident_id - 1, 1).await.unwrap();
    assert_eq!((row[0].id, row[0].version), (stored.id, stored.version));
    assert_eq!(row[0].first_answer_due, Some(moved_to));
}

/// Runs the whole suite against a fresh store.
pub async fn run_all(s: Arc<dyn Store>) {
    reference_upserts_replace(&*s).await;
    users_sessions_and_tokens(&*s).await;
    ingest_is_idempotent(&*s).await;
    concurrent_duplicate_ingest_creates_one(s.clone()).await;
    revisions_keep_the_original(&*s).await;
    apply_is_versioned_and_records_history(&*s).await;
    lists_filter_scope_and_paginate(&*s).await;
    rejects_and_cursors(&*s).await;
    overview_counts(&*s).await;
    merge_moves_messages(&*s).await;
    co_executors_are_in_scope(&*s).await;
    organisation_queue_merges_co_executed(&*s).await;
    calendar_years_and_reference_replacement(&*s).await;
    split_moves_one_message(&*s).await;
    answer_templates_are_kept(&*s).await;
    deadline_pages_are_written_whole(&*s).await;
    deadlines_follow_the_incident(&*s).await;
}

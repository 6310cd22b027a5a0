//! The broker's side: conn-config passwords are fresh and enforced, who gets kicked when,
//! the ACL confines each user, and publishes made while the broker is down (killed with
//! SIGKILL) are delivered after it restarts.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{MqttUser, Stack};

const QUIET: Duration = Duration::from_millis(300);

fn is_refused(r: &Result<MqttUser, String>) -> bool {
    matches!(r, Err(e) if e.starts_with("refused"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conn_config_password_is_fresh_and_enforced() {
    let s = Stack::start().await;
    let (t2, mut m2) = s.user(2).await;
    let t1 = s.login(1).await;
    let a = s.get("/mqtt/conn-config", &t1).await;
    let b = s.get("/mqtt/conn-config", &t1).await;
    assert_eq!(a["user_id"], "1");
    assert_eq!(a["server"], "127.0.0.1");
    assert_eq!(a["port"], s.broker.ws_port);
    assert_eq!(a["client_id"], "chat_1");
    assert_eq!(a["sub_topics"], json!(["chat_1"]));
    let (pa, pb) = (
        a["password"].as_str().unwrap(),
        b["password"].as_str().unwrap(),
    );
    for p in [pa, pb] {
        assert_eq!(p.len(), 32);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
    }
    assert_ne!(pa, pb, "a new password on every call");

    let port = s.broker.mqtt_port;
    let old = MqttUser::connect(port, "chat_1", "1", pa, false).await;
    assert!(is_refused(&old), "the previous password is refused");
    let wrong_user = MqttUser::connect(port, "chat_1", "2", pb, false).await;
    assert!(is_refused(&wrong_user), "user 1's password is not user 2's");
    let mut m1 = MqttUser::connect(port, "chat_1", "1", pb, false)
        .await
        .expect("the fresh password works");

    // A new password for user 1 ends user 1's live connection (the broker re-checks
    // connected clients on reload; clients fetch conn-config only before connecting) but
    // not user 2's.
    let c = s.get("/mqtt/conn-config", &t1).await;
    assert!(m1
        .disconnected_within(Duration::from_secs(2))
        .await
        .is_some());
    assert!(
        m2.disconnected_within(QUIET).await.is_none(),
        "user 2 stays connected"
    );
    let mut m1 = MqttUser::connect(port, "chat_1", "1", c["password"].as_str().unwrap(), false)
        .await
        .expect("the newest password works");
    m1.subscribe("chat_1").await;

    // Room joins and other users' passwords kick nobody else.
    let t3 = s.login(3).await;
    s.post("/rooms/join", &t3, json!({"room_id": 2})).await;
    s.get("/mqtt/conn-config", &t3).await;
    assert!(m1.disconnected_within(QUIET).await.is_none());
    assert!(m2
        .disconnected_within(Duration::from_millis(10))
        .await
        .is_none());

    // And both still receive.
    s.post(
        "/messages",
        &t2,
        json!({"receiver_id": 1, "msg_type": 1, "msg_content": {"content": "still here?"}}),
    )
    .await;
    assert_eq!(m1.expect().await.1["msg_content"]["content"], "still here?");
    assert_eq!(m2.expect().await.0, "chat_2");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_confines_each_user() {
    let s = Stack::start().await;
    let (t1, mut m1) = s.user(1).await;
    let (_t2, mut m2) = s.user(2).await;
    let (t3, mut m3) = s.user(3).await;
    s.post("/rooms/join", &t3, json!({"room_id": 1})).await;
    m3.expect().await; // the notice
    m3.expect().await; // the members
    m3.subscribe("room_1").await;

    // Subscribing to another user's topic, a room not joined, or everything: Mosquitto
    // 2.0.11 grants the SUBACK of an acl_file-denied filter but delivers nothing on it
    // (0x80 would be fine too); either way nothing arrives.
    for topic in ["chat_1", "room_1", "#", "+"] {
        let code = m2.subscribe(topic).await;
        assert!(
            matches!(
                code,
                rumqttc::SubscribeReasonCode::Success(_) | rumqttc::SubscribeReasonCode::Failure
            ),
            "{topic}: {code:?}"
        );
    }
    s.post(
        "/messages",
        &t3,
        json!({"receiver_id": 1, "msg_type": 1, "msg_content": {"content": "for alice"}}),
    )
    .await;
    s.post(
        "/messages",
        &t3,
        json!({"conversation_id": "room_1", "msg_type": 1, "msg_content": {"content": "for the room"}}),
    )
    .await;
    assert_eq!(m1.expect().await.0, "chat_1");
    let mut carol_saw = vec![m3.expect().await.0, m3.expect().await.0];
    carol_saw.sort();
    assert_eq!(carol_saw, ["chat_3", "room_1"]);
    assert!(
        m2.next(QUIET).await.is_none(),
        "bob reads nothing of theirs"
    );

    // Publishing to another user's topic or a room is refused (QoS 1 is acked, not
    // delivered); so is someone else's presence.
    m1.subscribe("presence_2").await;
    m1.subscribe("presence_3").await;
    for topic in ["chat_1", "room_1", "presence_3"] {
        m2.client
            .publish(
                topic,
                rumqttc::QoS::AtLeastOnce,
                false,
                r#"{"forged":true}"#,
            )
            .await
            .unwrap();
    }
    assert!(
        m1.next(QUIET).await.is_none(),
        "nothing forged reaches alice"
    );
    assert!(m3.next(Duration::from_millis(50)).await.is_none());

    // Own presence, retained: readable by others.
    m2.client
        .publish(
            "presence_2",
            rumqttc::QoS::AtLeastOnce,
            true,
            r#"{"online":true}"#,
        )
        .await
        .unwrap();
    let (topic, p) = m1.expect().await;
    assert_eq!((topic.as_str(), p), ("presence_2", json!({"online": true})));
    let (_, mut late) = s.user(4).await;
    late.subscribe("presence_2").await;
    assert_eq!(late.expect().await.0, "presence_2", "retained");

    // The server's answers for the same rules.
    let (status, _) = s
        .call("GET", "/messages?conversation_id=2_3", Some(&t1), None)
        .await;
    assert_eq!(status, 403);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_while_the_broker_is_down_arrive_after_restart() {
    let mut s = Stack::start().await;
    let (t1, m1) = s.user(1).await;
    let t2 = s.login(2).await;
    let cfg2 = s.get("/mqtt/conn-config", &t2).await;
    let pw2 = cfg2["password"].as_str().unwrap().to_string();
    let port = s.broker.mqtt_port;
    // Bob's persistent session exists, then he goes offline.
    let mut m2 = MqttUser::connect(port, "chat_2", "2", &pw2, false)
        .await
        .unwrap();
    m2.subscribe("chat_2").await;
    m2.close().await;
    drop(m1);

    let send =
        |text: &str| json!({"receiver_id": 2, "msg_type": 1, "msg_content": {"content": text}});
    // Queued by the broker for offline bob, saved (autosave on every change).
    let a = s.post("/messages", &t1, send("before the crash")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.broker.kill();

    // While it is down: the server stores, queues and answers at once.
    let started = std::time::Instant::now();
    let b = s.post("/messages", &t1, send("during the outage 1")).await;
    let c = s.post("/messages", &t1, send("during the outage 2")).await;
    assert_eq!(
        (b["status"].as_i64(), c["status"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // conn-config while down: the password is on disk for when the broker starts.
    let t3 = s.login(3).await;
    let cfg3 = s.get("/mqtt/conn-config", &t3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    s.broker.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !s.server_connected() {
        assert!(
            std::time::Instant::now() < deadline,
            "server did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Bob comes back with the same password and session: all three, in order.
    let mut m2 = MqttUser::connect(port, "chat_2", "2", &pw2, false)
        .await
        .expect("bob's password survived the crash");
    let mut got = Vec::new();
    while got.len() < 3 {
        let (topic, m) = m2
            .next(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("only {got:?} arrived\n{}", s.broker.log_tail()));
        assert_eq!(topic, "chat_2");
        got.push(m["id"].clone());
    }
    assert_eq!(got, [a["id"].clone(), b["id"].clone(), c["id"].clone()]);
    MqttUser::connect(
        port,
        "chat_3",
        "3",
        cfg3["password"].as_str().unwrap(),
        true,
    )
    .await
    .expect("the password issued while the broker was down works");

    // Security changes reach the restarted broker (SIGHUP to its new PID).
    let cfg2b = s.get("/mqtt/conn-config", &t2).await;
    assert!(m2
        .disconnected_within(Duration::from_secs(2))
        .await
        .is_some());
    assert!(is_refused(
        &MqttUser::connect(port, "chat_2", "2", &pw2, false).await
    ));
    MqttUser::connect(
        port,
        "chat_2",
        "2",
        cfg2b["password"].as_str().unwrap(),
        false,
    )
    .await
    .expect("new password after restart");
    // History is complete regardless.
    let page = s.get("/messages?conversation_id=1_2", &t2).await;
    assert_eq!(page.as_array().unwrap().len(), 3);
    s.stop().await;
}

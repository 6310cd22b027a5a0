//! `--broker rabbitmq`: the answers to `rabbitmq_auth_backend_http` over real HTTP, from the
//! server's live state (no broker needed: nothing listens on the MQTT port, so the
//! publisher just keeps retrying).

mod support;

use imcore_server::{BrokerKind, Config, Running, StartError};
use serde_json::Value;
use support::{free_port, http, http_raw, login, ADMIN_PASSWORD, ADMIN_USER};

const URLS: [&str; 2] = ["ws://127.0.0.1:15001/mqtt", "ws://127.0.0.1:15002/mqtt"];

fn config(broker: BrokerKind) -> Config {
    let port = free_port();
    Config {
        http: "127.0.0.1:0".parse().unwrap(),
        mqtt_addrs: vec![("127.0.0.1".into(), port), ("127.0.0.1".into(), port)],
        broker_urls: URLS.iter().map(|u| u.to_string()).collect(),
        broker,
        admin_user: ADMIN_USER.into(),
        admin_password: ADMIN_PASSWORD.into(),
        secret: Some("test-secret".into()),
        ..Config::default()
    }
}

async fn ask(server: &Running, question: &str, form: &str) -> (u16, String) {
    let (status, _, body) = http_raw(
        server.addr,
        "POST",
        &format!("/broker/auth/{question}"),
        None,
        Some(form.as_bytes()),
    )
    .await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn allowed(server: &Running, question: &str, form: &str) -> bool {
    let (status, body) = ask(server, question, form).await;
    assert_eq!(status, 200, "{question} {form}: {body}");
    match body.as_str() {
        "allow" => true,
        "deny" => false,
        other => panic!("{question} {form}: {other:?}"),
    }
}

async fn conn_config(server: &Running, user: u64) -> Value {
    let token = login(server.addr, user).await;
    let (status, v) = http(server.addr, "GET", "/mqtt/conn-config", Some(&token), None).await;
    assert_eq!(status, 200, "{v}");
    v["data"].clone()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn topic_form(user: &str, permission: &str, key: &str) -> String {
    format!(
        "username={user}&vhost=%2F&resource=topic&name=amq.topic&permission={permission}\
         &routing_key={}&variable_map.client_id=chat_{user}",
        enc(key)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_answers_follow_the_live_state() {
    let server = imcore_server::start(config(BrokerKind::RabbitMq))
        .await
        .unwrap();
    let first = conn_config(&server, 1).await;
    assert_eq!(first["urls"], serde_json::json!(URLS));
    // User 2 starts at its home node, the second: users spread over the cluster.
    let second = conn_config(&server, 2).await;
    assert_eq!(second["urls"], serde_json::json!([URLS[1], URLS[0]]));
    assert_eq!(first["server"], "127.0.0.1");
    assert_eq!(first["port"], 15001);
    let p1 = first["password"].as_str().unwrap().to_string();
    let login = |pw: &str| format!("username=1&password={}&client_id=chat_1&vhost=%2F", enc(pw));
    assert!(allowed(&server, "user", &login(&p1)).await);
    assert!(!allowed(&server, "user", &login("wrong")).await);

    // A second conn-config rotates the password: the first one is refused at once.
    let p2 = conn_config(&server, 1).await["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!allowed(&server, "user", &login(&p1)).await);
    assert!(allowed(&server, "user", &login(&p2)).await);

    let admin = format!("username={ADMIN_USER}&password={}", enc(ADMIN_PASSWORD));
    assert!(allowed(&server, "user", &admin).await);
    assert!(
        !allowed(
            &server,
            "user",
            &format!("username={ADMIN_USER}&password=x")
        )
        .await
    );

    assert!(allowed(&server, "vhost", "username=1&vhost=%2F&ip=127.0.0.1").await);
    assert!(!allowed(&server, "vhost", "username=1&vhost=other&ip=127.0.0.1").await);

    conn_config(&server, 2).await;
    assert!(allowed(&server, "topic", &topic_form("1", "read", "chat_1")).await);
    assert!(!allowed(&server, "topic", &topic_form("1", "read", "chat_2")).await);
    assert!(!allowed(&server, "topic", &topic_form("1", "read", "#")).await);
    assert!(allowed(&server, "topic", &topic_form("1", "read", "presence_2")).await);
    assert!(allowed(&server, "topic", &topic_form("1", "write", "presence_1")).await);
    assert!(!allowed(&server, "topic", &topic_form("1", "write", "presence_2")).await);
    assert!(allowed(&server, "topic", &topic_form(ADMIN_USER, "write", "chat_2")).await);

    let queue = |user: &str, name: &str, permission: &str| {
        format!("username={user}&vhost=%2F&resource=queue&name={name}&permission={permission}")
    };
    assert!(
        allowed(
            &server,
            "resource",
            &queue("1", "mqtt-subscription-chat_1qos1", "configure")
        )
        .await
    );
    assert!(
        !allowed(
            &server,
            "resource",
            &queue("1", "mqtt-subscription-chat_2qos1", "read")
        )
        .await
    );
    assert!(
        allowed(
            &server,
            "resource",
            "username=1&vhost=%2F&resource=exchange&name=amq.topic&permission=read"
        )
        .await
    );

    let (status, body) = ask(&server, "other", "username=1").await;
    assert_eq!((status, body.as_str()), (404, "deny"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auth_paths_exist_only_for_rabbitmq() {
    let mut c = config(BrokerKind::Mosquitto);
    c.broker_urls.clear();
    let server = imcore_server::start(c).await.unwrap();
    let cfg = conn_config(&server, 1).await;
    assert!(cfg.get("urls").is_none(), "{cfg}");
    let (status, _) = ask(&server, "user", "username=1&password=x").await;
    assert_eq!(status, 404);
    server.stop().await;

    let mut c = config(BrokerKind::RabbitMq);
    c.broker_dir = Some(std::env::temp_dir());
    assert!(matches!(
        imcore_server::start(c).await,
        Err(StartError::Config(_))
    ));
}

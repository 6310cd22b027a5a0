//! Test harness: a real Mosquitto configured by `imcore_server::broker::write_broker_config`
//! (the same generation `scripts/stack.sh` uses), the server in-process, a small HTTP/1.1
//! client and rumqttc test users.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use imcore_server::broker::{write_broker_config, BrokerFiles, BrokerSetup};
use imcore_server::{Config, Running};
use rumqttc::{AsyncClient, ConnectionError, Event, MqttOptions, Packet, QoS, SubscribeReasonCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

pub const ADMIN_USER: &str = "imcore-server";
pub const ADMIN_PASSWORD: &str = "admin-test-password";

/// A port bound and let go: nothing listens there afterwards.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn mosquitto_bin() -> String {
    if let Ok(p) = std::env::var("MOSQUITTO") {
        return p;
    }
    for p in ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    "mosquitto".into()
}

fn unique_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "imcore-server-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

/// A Mosquitto in its own folder on free ports.
pub struct Broker {
    pub files: BrokerFiles,
    pub mqtt_port: u16,
    pub ws_port: u16,
    child: Option<Child>,
}

impl Broker {
    pub fn start() -> Broker {
        let dir = unique_dir();
        let mut last = String::new();
        for _ in 0..5 {
            let (mqtt_port, ws_port) = (free_port(), free_port());
            if mqtt_port == ws_port {
                continue;
            }
            write_broker_config(&BrokerSetup {
                dir: dir.clone(),
                mqtt_port,
                ws_port,
                admin_user: ADMIN_USER.into(),
                admin_password: ADMIN_PASSWORD.into(),
            })
            .expect("write broker config");
            let mut b = Broker {
                files: BrokerFiles::new(&dir),
                mqtt_port,
                ws_port,
                child: None,
            };
            match b.spawn() {
                Ok(()) => return b,
                Err(e) => last = e,
            }
        }
        panic!("mosquitto did not start: {last}");
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.files.log())
            .map_err(|e| e.to_string())?;
        let child = Command::new(mosquitto_bin())
            .arg("-c")
            .arg(self.files.conf())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn mosquitto: {e}"))?;
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.child = None;
                    return Err(format!("mosquitto exited ({status}): {}", self.log_tail()));
                }
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.mqtt_port)).is_ok()
                && std::net::TcpStream::connect(("127.0.0.1", self.ws_port)).is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("mosquitto not listening: {}", self.log_tail()))
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.files.log()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGKILL, like a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Same config, same ports, same persistence.
    pub fn restart(&mut self) {
        self.kill();
        let start = Instant::now();
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if start.elapsed() > Duration::from_secs(10) => panic!("restart: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.files.dir);
        } else {
            eprintln!(
                "broker folder kept: {}\n{}",
                self.files.dir.display(),
                self.log_tail()
            );
        }
    }
}

/// A broker and the server in-process, with the test hooks on.
pub struct Stack {
    pub broker: Broker,
    pub server: Option<Running>,
    pub http: std::net::SocketAddr,
}

impl Stack {
    pub async fn start() -> Stack {
        let broker = Broker::start();
        let server = imcore_server::start(Config {
            http: "127.0.0.1:0".parse().unwrap(),
            db: None,
            mqtt_host: "127.0.0.1".into(),
            mqtt_port: broker.mqtt_port,
            mqtt_addrs: Vec::new(),
            ws_host: "127.0.0.1".into(),
            ws_port: broker.ws_port,
            broker_urls: Vec::new(),
            broker: imcore_server::BrokerKind::Mosquitto,
            broker_dir: Some(broker.files.dir.clone()),
            admin_user: ADMIN_USER.into(),
            admin_password: ADMIN_PASSWORD.into(),
            mqtt_client_id: "imcore-server".into(),
            secret: Some("test-secret".into()),
            www: None,
            test_hooks: true,
        })
        .await
        .expect("start server");
        let http = server.addr;
        let stack = Stack {
            broker,
            server: Some(server),
            http,
        };
        // The server's own session is up before tests publish through it.
        let start = Instant::now();
        while !stack.server_connected() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "server never connected"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stack
    }

    pub fn server_connected(&self) -> bool {
        self.server
            .as_ref()
            .is_some_and(|s| s.state.publisher.is_connected())
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        http(self.http, method, path, token, body).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Value {
        let (status, v) = self.call("GET", path, Some(token), None).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        assert_eq!(v["code"], 0, "GET {path}: {v}");
        v["data"].clone()
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let (status, v) = self
            .call("POST", path, Some(token), Some(&body.to_string()))
            .await;
        assert_eq!(status, 200, "POST {path} {body}: {v}");
        assert_eq!(v["code"], 0, "POST {path} {body}: {v}");
        v["data"].clone()
    }

    pub async fn login(&self, user: u64) -> String {
        login(self.http, user).await
    }

    /// Logs in, fetches a conn-config and connects as that user (persistent session, client
    /// id `chat_N`), subscribed to its `sub_topics`.
    pub async fn user(&self, user: u64) -> (String, MqttUser) {
        let token = self.login(user).await;
        let cfg = self.get("/mqtt/conn-config", &token).await;
        let mut m = MqttUser::connect(
            self.broker.mqtt_port,
            cfg["client_id"].as_str().unwrap(),
            cfg["user_id"].as_str().unwrap(),
            cfg["password"].as_str().unwrap(),
            false,
        )
        .await
        .unwrap_or_else(|e| panic!("user {user} connect: {e}"));
        for t in cfg["sub_topics"].as_array().unwrap() {
            let codes = m.subscribe(t.as_str().unwrap()).await;
            assert!(
                matches!(codes, SubscribeReasonCode::Success(_)),
                "{t}: {codes:?}"
            );
        }
        (token, m)
    }
}

/// `POST /login` as `user` at the server on `addr`: its bearer token.
pub async fn login(addr: std::net::SocketAddr, user: u64) -> String {
    let body = format!("{{\"user_id\": {user}}}");
    let (status, v) = http(addr, "POST", "/login", None, Some(&body)).await;
    assert_eq!(status, 200, "{v}");
    v["data"]["token"].as_str().expect("token").to_string()
}

/// One HTTP/1.1 request (`Connection: close`); the status and the JSON body (`Null` if
/// the body is not JSON).
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let (status, _, bytes) = http_raw(addr, method, path, token, body.map(str::as_bytes)).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub async fn http_raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.expect("connect to server");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    s.write_all(&bytes).await.expect("write request");
    let mut resp = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut resp))
        .await
        .expect("response in time")
        .expect("read response");
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    let mut body = resp[split + 4..].to_vec();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

/// What a test user's event loop reports.
#[derive(Debug)]
pub enum Got {
    Publish(String, Vec<u8>),
    SubAck(Vec<SubscribeReasonCode>),
    Disconnected(String),
}

/// A rumqttc client whose event loop runs in a task and stops at the first error.
pub struct MqttUser {
    pub client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Got>,
    task: tokio::task::JoinHandle<()>,
}

impl MqttUser {
    pub async fn connect(
        port: u16,
        client_id: &str,
        user: &str,
        password: &str,
        clean: bool,
    ) -> Result<MqttUser, String> {
        let mut o = MqttOptions::new(client_id, "127.0.0.1", port);
        o.set_credentials(user, password)
            .set_clean_session(clean)
            .set_keep_alive(Duration::from_secs(30));
        let (client, mut ev) = AsyncClient::new(o, 100);
        let first = tokio::time::timeout(Duration::from_secs(5), ev.poll())
            .await
            .map_err(|_| "connect timed out".to_string())?;
        match first {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {}
            Ok(other) => return Err(format!("unexpected first event {other:?}")),
            Err(e) => return Err(describe(&e)),
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match ev.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(Got::Publish(p.topic.clone(), p.payload.to_vec()));
                    }
                    Ok(Event::Incoming(Packet::SubAck(s))) => {
                        let _ = tx.send(Got::SubAck(s.return_codes));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = tx.send(Got::Disconnected(describe(&e)));
                        return;
                    }
                }
            }
        });
        Ok(MqttUser { client, rx, task })
    }

    pub async fn subscribe(&mut self, topic: &str) -> SubscribeReasonCode {
        self.client
            .subscribe(topic, QoS::AtLeastOnce)
            .await
            .expect("queue subscribe");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(Got::SubAck(codes))) => return codes[0],
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("no SUBACK for {topic}"),
            }
        }
    }

    /// The next publish within `wait`, as (topic, JSON).
    pub async fn next(&mut self, wait: Duration) -> Option<(String, Value)> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(Got::Publish(t, p))) => {
                    return Some((t, serde_json::from_slice(&p).unwrap_or(Value::Null)))
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The next publish; panics after 5 s.
    pub async fn expect(&mut self) -> (String, Value) {
        self.next(Duration::from_secs(5))
            .await
            .expect("a publish within 5 s")
    }

    /// Whether the connection ended within `wait`, and why.
    pub async fn disconnected_within(&mut self, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(Got::Disconnected(why))) => return Some(why),
                Ok(Some(_)) => {}
                Ok(None) => return Some("closed".into()),
                Err(_) => return None,
            }
        }
    }

    pub async fn close(self) {
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.task.abort();
    }
}

impl Drop for MqttUser {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => format!("refused: {code:?}"),
        other => other.to_string(),
    }
}

//! imcore-server: the reference chat backend of imcore.
//!
//! It answers the HTTP contract of `PROTOCOL.md` (conn-config, time, send, resend, revoke,
//! read, conversations, history) plus login, users and rooms, stores everything in SQLite,
//! and publishes each message with its own persistent MQTT session to the receiver's topic
//! on Mosquitto, whose password and ACL files it owns (see [`broker`]), or on a RabbitMQ
//! cluster, whose HTTP auth backend it answers (see [`rabbit`]).
//!
//! ```ignore
//! let running = imcore_server::start(config).await?;   // binds, connects, syncs the broker
//! println!("http://{}", running.addr);
//! running.stop().await;
//! ```
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod api;
pub mod auth;
mod body;
pub mod broker;
pub mod clock;
pub mod db;
pub mod error;
pub mod mqtt;
pub mod rabbit;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rand::RngCore as _;
use thiserror::Error;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Which broker the server works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BrokerKind {
    /// Mosquitto: the server owns its `passwd`/`acl` files (`broker_dir`).
    #[default]
    Mosquitto,
    /// RabbitMQ (3.10, MQTT plugins): the server answers `rabbitmq_auth_backend_http` at
    /// `/broker/auth/{user,vhost,resource,topic}`.
    RabbitMq,
}

impl std::str::FromStr for BrokerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mosquitto" => Ok(BrokerKind::Mosquitto),
            "rabbitmq" => Ok(BrokerKind::RabbitMq),
            _ => Err(format!("{s:?} is not a broker (mosquitto, rabbitmq)")),
        }
    }
}

/// How the server runs; see `imcore-server --help`.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP bind address.
    pub http: SocketAddr,
    /// SQLite file; `None`: in memory.
    pub db: Option<PathBuf>,
    /// The broker's TCP listener, for the server's own connection and the reload probe.
    pub mqtt_host: String,
    pub mqtt_port: u16,
    /// Several TCP listeners (a cluster's nodes), tried in turn by the server's own
    /// connection; empty: `mqtt_host:mqtt_port` alone. The reload probe uses the first.
    pub mqtt_addrs: Vec<(String, u16)>,
    /// Advertised in conn-config: the broker's WebSocket host and port.
    pub ws_host: String,
    pub ws_port: u16,
    /// Advertised in conn-config as `urls`: the brokers' WebSocket URLs (a cluster's
    /// nodes). When given, `server`/`port` come from the first one.
    pub broker_urls: Vec<String>,
    pub broker: BrokerKind,
    /// The broker's run folder holding `passwd`, `acl` and `mosquitto.pid`; `None`: the
    /// server does not manage the broker's security.
    pub broker_dir: Option<PathBuf>,
    /// The server's own MQTT user.
    pub admin_user: String,
    pub admin_password: String,
    /// The server's MQTT client id (its persistent session).
    pub mqtt_client_id: String,
    /// Token signing secret; `None`: random (tokens die with the process).
    pub secret: Option<String>,
    /// Static files served at `/` for paths the API does not take.
    pub www: Option<PathBuf>,
    /// Enables `POST /test/clock` and `POST /test/reset`.
    pub test_hooks: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: None,
            mqtt_host: "127.0.0.1".into(),
            mqtt_port: 1883,
            mqtt_addrs: Vec::new(),
            ws_host: "127.0.0.1".into(),
            ws_port: 8083,
            broker_urls: Vec::new(),
            broker: BrokerKind::Mosquitto,
            broker_dir: None,
            admin_user: "imcore-server".into(),
            admin_password: String::new(),
            mqtt_client_id: "imcore-server".into(),
            secret: None,
            www: None,
            test_hooks: false,
        }
    }
}

#[derive(Debug, Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("{0}")]
    Api(#[from] error::ApiError),
    #[error("broker security: {0}")]
    Security(#[from] broker::SecurityError),
    #[error("bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the token secret must not be empty")]
    EmptySecret,
    #[error("{0}")]
    Config(String),
}

/// A started server.
#[derive(Debug)]
pub struct Running {
    /// The bound HTTP address.
    pub addr: SocketAddr,
    pub state: api::Shared,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops serving (graceful), disconnects from the broker.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.server).await;
        self.state.publisher.stop().await;
    }

    /// Runs until `signal` completes, then stops.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        self.stop().await;
    }
}

pub(crate) fn log(msg: &str) {
    eprintln!(
        "{} imcore-server: {msg}",
        clock::utc_date_time(clock::real_now_ms())
    );
}

/// `IMCORE_DEBUG`: 0 (unset), 1 or 2; read once.
pub(crate) fn debug_level() -> u8 {
    static LEVEL: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        std::env::var("IMCORE_DEBUG")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    })
}

/// Opens the database, connects to the broker (in the background), writes the broker's
/// security files from the database and binds the HTTP listener.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let clock = clock::Clock::default();
    let db = db::Db::open(config.db.as_deref(), clock::real_now_ms())?;
    let secret = match &config.secret {
        Some(s) => s.as_bytes().to_vec(),
        None => {
            let mut s = vec![0u8; 32];
            rand::rng().fill_bytes(&mut s);
            s
        }
    };
    let signer = auth::Signer::new(&secret).ok_or(StartError::EmptySecret)?;
    let mqtt_addrs = if config.mqtt_addrs.is_empty() {
        vec![(config.mqtt_host.clone(), config.mqtt_port)]
    } else {
        config.mqtt_addrs.clone()
    };
    let (probe_host, probe_port) = mqtt_addrs
        .first()
        .cloned()
        .unwrap_or_else(|| (config.mqtt_host.clone(), config.mqtt_port));
    let enforcement = match (config.broker, &config.broker_dir) {
        (BrokerKind::Mosquitto, Some(dir)) => {
            broker::Enforcement::Files(broker::BrokerFiles::new(dir))
        }
        (BrokerKind::Mosquitto, None) => broker::Enforcement::Off,
        (BrokerKind::RabbitMq, None) => broker::Enforcement::Http,
        (BrokerKind::RabbitMq, Some(_)) => {
            return Err(StartError::Config(
                "--broker-dir is for Mosquitto; with --broker rabbitmq the security is \
                 answered over HTTP"
                    .into(),
            ))
        }
    };
    let (ws_host, ws_port) = match config.broker_urls.first() {
        Some(url) => ws_host_port(url).ok_or_else(|| {
            StartError::Config(format!(
                "--broker-urls: {url:?} is not a URL like ws://host:port/path"
            ))
        })?,
        None => (config.ws_host.clone(), config.ws_port),
    };
    let security = broker::Security::new(
        enforcement,
        &probe_host,
        probe_port,
        &config.admin_user,
        &config.admin_password,
    )?;
    if !security.enforced() {
        log("no --broker-dir: the broker's passwords and ACLs are not managed");
    }
    let publisher = mqtt::Publisher::start(&mqtt::MqttSettings {
        addrs: mqtt_addrs,
        client_id: config.mqtt_client_id.clone(),
        user: config.admin_user.clone(),
        password: config.admin_password.clone(),
    });
    if let Err(e) = security.load(db.security_entries()?).await {
        log(&format!("broker security not applied at start: {e}"));
    }
    let state = Arc::new(api::AppState {
        db,
        clock,
        signer,
        security,
        publisher,
        ws_host,
        ws_port,
        broker_urls: config.broker_urls.clone(),
        rabbitmq: config.broker == BrokerKind::RabbitMq,
        test_hooks: config.test_hooks,
    });
    let app = api::router(state.clone(), config.www.clone());
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.http,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.http,
        source,
    })?;
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    log(&format!("listening on http://{addr}"));
    Ok(Running {
        addr,
        state,
        shutdown: Some(tx),
        server,
    })
}

/// The host and port of `ws[s]://host[:port][/path]` (port: 80 / 443 by default).
pub fn ws_host_port(url: &str) -> Option<(String, u16)> {
    let (rest, default_port) = if let Some(r) = url.strip_prefix("ws://") {
        (r, 80)
    } else if let Some(r) = url.strip_prefix("wss://") {
        (r, 443)
    } else {
        return None;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_string(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((authority.to_string(), default_port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_urls_give_host_and_port() {
        let hp = |u: &str| ws_host_port(u);
        assert_eq!(
            hp("ws://127.0.0.1:15675/mqtt"),
            Some(("127.0.0.1".into(), 15675))
        );
        assert_eq!(
            hp("wss://chat.example.com/mqtt"),
            Some(("chat.example.com".into(), 443))
        );
        assert_eq!(hp("ws://h"), Some(("h".into(), 80)));
        assert_eq!(hp("ws://[::1]:9001/ws"), Some(("::1".into(), 9001)));
        for bad in [
            "http://h:1/",
            "ws://",
            "ws://:1/",
            "ws://h:x/",
            "ws://u@h:1/",
            "h:1",
        ] {
            assert_eq!(hp(bad), None, "{bad}");
        }
        assert_eq!("rabbitmq".parse(), Ok(BrokerKind::RabbitMq));
        assert_eq!("mosquitto".parse(), Ok(BrokerKind::Mosquitto));
        assert!("kafka".parse::<BrokerKind>().is_err());
    }
}

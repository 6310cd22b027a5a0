//! imcore-server: the reference chat backend of imcore.
//!
//! It answers the HTTP contract of `PROTOCOL.md` (conn-config, time, send, resend, revoke,
//! read, conversations, history) plus login, users and rooms, stores everything in SQLite,
//! and publishes each message with its own persistent MQTT session to the receiver's topic
//! on Mosquitto, whose password and ACL files it owns (see [`broker`]).
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

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rand::RngCore as _;
use thiserror::Error;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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
    /// Advertised in conn-config: the broker's WebSocket host and port.
    pub ws_host: String,
    pub ws_port: u16,
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
            ws_host: "127.0.0.1".into(),
            ws_port: 8083,
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
    let security = broker::Security::new(
        config.broker_dir.clone().map(broker::BrokerFiles::new),
        &config.mqtt_host,
        config.mqtt_port,
        &config.admin_user,
        &config.admin_password,
    )?;
    if !security.enforced() {
        log("no --broker-dir: the broker's passwords and ACLs are not managed");
    }
    let publisher = mqtt::Publisher::start(&mqtt::MqttSettings {
        host: config.mqtt_host.clone(),
        port: config.mqtt_port,
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
        ws_host: config.ws_host.clone(),
        ws_port: config.ws_port,
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

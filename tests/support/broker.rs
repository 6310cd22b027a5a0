//! A real Mosquitto for native integration tests: one broker per test, on free 127.0.0.1
//! ports, in its own temporary folder, stopped (by PID) when the [`Broker`] is dropped.
//!
//! Include it from a test crate (a file directly under `tests/`) with
//!
//! ```ignore
//! #![cfg(not(target_arch = "wasm32"))] // std::process and libc: native only
//! #[path = "support/broker.rs"]
//! mod broker;
//! use broker::{Broker, BrokerOptions};
//! ```
//!
//! (`tests/support/` has no `mod.rs` on purpose: cargo does not treat sub-folders of
//! `tests/` as test crates, and `#[path]` keeps every test crate free to take only this file.)
//!
//! ```ignore
//! let mut b = Broker::start(BrokerOptions { persistence: true, ..Default::default() });
//! connect_to(&b.ws_url());        // ws://127.0.0.1:PORT/mqtt, subprotocol "mqtt"
//! b.kill();                       // SIGKILL, like a crash
//! b.restart();                    // same ports, same persistence folder
//! b.freeze(); /* … */ b.thaw();   // SIGSTOP / SIGCONT: a broker that stops answering
//! ```
//!
//! Mosquitto 2.0.11 notes: started as root it drops to user `mosquitto` unless the config
//! says `user root` (it does here, so it can read and write the temporary folder); it logs
//! to stderr, which goes to `mosquitto.log` in that folder and is shown when a start fails
//! (and when a test panics while the broker is alive); its WebSocket listener ignores the
//! bind address and listens on all interfaces.
#![allow(dead_code)] // each test crate uses a different part of this module
#![allow(clippy::disallowed_methods)] // the harness owns real time

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long [`Broker::start`] / [`Broker::restart`] wait for the listeners.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`Broker::restart`] keeps retrying when the old ports are not free yet.
const REBIND_TIMEOUT: Duration = Duration::from_secs(5);

/// What the broker is configured with.
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    /// `persistence true` with `autosave_interval 1` and `autosave_on_changes true`: every
    /// change (retained message, subscription, queued message) is written to
    /// `mosquitto.db` at once, so it survives [`Broker::kill`] + [`Broker::restart`].
    pub persistence: bool,
    /// `Some((user, password))`: `allow_anonymous false` and a `password_file` holding that
    /// one user (made with `mosquitto_passwd -c -b`). `None`: `allow_anonymous true`.
    pub password: Option<(String, String)>,
    /// Appended verbatim at the end of the config (one option per line). Global options
    /// only: `per_listener_settings` is false, and anything listener-specific would land on
    /// the WebSocket listener, which comes last.
    pub extra_config: String,
}

/// A running (or killed) Mosquitto owned by the test.
#[derive(Debug)]
pub struct Broker {
    /// The `protocol websockets` listener (path `/mqtt` is what [`Broker::ws_url`] uses).
    pub ws_port: u16,
    /// The plain MQTT-over-TCP listener, on 127.0.0.1.
    pub tcp_port: u16,
    dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    last_pid: u32,
}

impl Broker {
    /// Writes a config into a fresh temporary folder, starts Mosquitto on two free
    /// 127.0.0.1 ports and returns once it logged "running" and the WebSocket port accepts
    /// TCP connections. Panics (with the tail of Mosquitto's log) if that takes over 10 s.
    pub fn start(opts: BrokerOptions) -> Broker {
        let dir = unique_dir();
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let log = dir.join("mosquitto.log");
        let config = dir.join("mosquitto.conf");
        let password_file = opts.password.as_ref().map(|(user, password)| {
            let file = dir.join("passwords");
            let out = Command::new(find_tool("mosquitto_passwd", "/usr/bin/mosquitto_passwd"))
                .arg("-c")
                .arg("-b")
                .arg(&file)
                .arg(user)
                .arg(password)
                .output()
                .expect("run mosquitto_passwd (apt package mosquitto)");
            assert!(
                out.status.success(),
                "mosquitto_passwd failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            file
        });

        let mut broker = Broker {
            ws_port: 0,
            tcp_port: 0,
            dir,
            config,
            log,
            child: None,
            last_pid: 0,
        };
        // Free ports are picked by binding port 0 and letting go, so another test may grab
        // the same one before Mosquitto binds it: then Mosquitto exits and we pick again.
        let mut last_error = String::new();
        for _attempt in 0..5 {
            let (tcp_port, ws_port) = free_port_pair();
            broker.tcp_port = tcp_port;
            broker.ws_port = ws_port;
            let text = config_text(
                &opts,
                &broker.dir,
                password_file.as_deref(),
                tcp_port,
                ws_port,
            );
            fs::write(&broker.config, text).expect("write mosquitto.conf");
            match broker.spawn_and_wait() {
                Ok(()) => return broker,
                Err(e) => last_error = e,
            }
        }
        panic!("{last_error}");
    }

    /// `ws://127.0.0.1:{ws_port}/mqtt`
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/mqtt", self.ws_port)
    }

    /// SIGKILL (like a crash: no DISCONNECT, no final save) and reap the process.
    /// Does nothing if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts Mosquitto again with the same config: same ports, same persistence folder.
    /// Kills the running one first, if any. Retries for a few seconds while the old ports
    /// are not free yet.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + REBIND_TIMEOUT;
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => panic!("restart: {e}"),
                Err(_) => thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// SIGSTOP: the broker stays connected but answers nothing (the kernel still completes
    /// TCP handshakes into the listen backlog).
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT after [`Broker::freeze`].
    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    /// The PID of the running Mosquitto (after [`Broker::kill`]: of the last one).
    pub fn pid(&self) -> u32 {
        self.last_pid
    }

    /// The last lines Mosquitto logged (its log survives restarts).
    pub fn log_tail(&self) -> String {
        tail(&self.log, 40)
    }

    fn signal(&self, sig: libc::c_int) {
        let child = self
            .child
            .as_ref()
            .expect("the broker is not running (killed and not restarted)");
        // SAFETY: kill(2) on the PID of our own child, which has not been reaped yet
        // (reaping happens only in `kill`, which takes the Child out of `self.child`).
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
        assert_eq!(
            rc,
            0,
            "kill({}, {sig}): {}",
            child.id(),
            std::io::Error::last_os_error()
        );
    }

    /// Spawns Mosquitto with `self.config`; Ok once it is up, Err (process reaped) if it
    /// exits or is not ready within [`READY_TIMEOUT`].
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open mosquitto.log");
        let log_start = fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let mut child = Command::new(find_tool("mosquitto", "/usr/sbin/mosquitto"))
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run mosquitto (apt package mosquitto): {e}"))?;
        let pid = child.id();
        self.last_pid = pid;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "mosquitto (pid {pid}, tcp {}, ws {}) exited with {status}:\n{}",
                    self.tcp_port,
                    self.ws_port,
                    self.log_tail()
                ));
            }
            // "running" is logged once every listener is open; the connect proves the
            // WebSocket port is ours and reachable (and not a previous broker's).
            if log_since(&self.log, log_start).contains(" running")
                && port_accepts(self.ws_port)
                && port_accepts(self.tcp_port)
            {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "mosquitto (pid {pid}) did not accept connections on ws port {} within {:?}:\n{}",
                    self.ws_port,
                    READY_TIMEOUT,
                    self.log_tail()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Broker {
    /// SIGCONT (in case it is frozen), SIGKILL, wait, remove the temporary folder.
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // SAFETY: as in `signal`: our own, not yet reaped child.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGCONT);
            }
        }
        if thread::panicking() {
            eprintln!(
                "--- mosquitto log (tcp {}, ws {}) ---\n{}",
                self.tcp_port,
                self.ws_port,
                self.log_tail()
            );
        }
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn config_text(
    opts: &BrokerOptions,
    dir: &Path,
    password_file: Option<&Path>,
    tcp_port: u16,
    ws_port: u16,
) -> String {
    let mut c = String::new();
    c.push_str("# Written by tests/support/broker.rs\n");
    c.push_str("user root\n"); // else 2.0.11 started as root switches to user mosquitto
    c.push_str("log_dest stderr\n");
    c.push_str("log_timestamp_format %H:%M:%S\n");
    c.push_str("per_listener_settings false\n");
    match password_file {
        Some(file) => {
            c.push_str("allow_anonymous false\n");
            let _ = writeln!(c, "password_file {}", file.display());
        }
        None => c.push_str("allow_anonymous true\n"),
    }
    if opts.persistence {
        c.push_str("persistence true\n");
        // The trailing slash matters: Mosquitto appends the file name to it verbatim.
        let _ = writeln!(c, "persistence_location {}/", dir.display());
        c.push_str("autosave_interval 1\n");
        c.push_str("autosave_on_changes true\n");
    } else {
        c.push_str("persistence false\n");
    }
    let _ = writeln!(c, "listener {tcp_port} 127.0.0.1");
    let _ = writeln!(c, "listener {ws_port} 127.0.0.1");
    c.push_str("protocol websockets\n");
    if !opts.extra_config.is_empty() {
        c.push_str("# extra_config\n");
        c.push_str(&opts.extra_config);
        c.push('\n');
    }
    c
}

/// `target/tmp/mosquitto-<pid>-<n>-<nanos>` (CARGO_TARGET_TMPDIR, set for integration
/// tests), else under the system temp dir.
fn unique_dir() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base.join(format!(
        "mosquitto-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

fn free_port_pair() -> (u16, u16) {
    // Both held at once so they differ.
    let a = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

fn port_accepts(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// `name` on PATH, else `fallback` (e.g. /usr/sbin is not on every user's PATH).
fn find_tool(name: &str, fallback: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(fallback))
}

fn log_since(path: &Path, start: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let start = (start as usize).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn tail(path: &Path, lines: usize) -> String {
    let text = match fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return format!("(no log at {}: {e})", path.display()),
    };
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

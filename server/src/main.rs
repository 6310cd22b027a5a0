//! `imcore-server`: run the backend, write a broker config, or pick free ports.

use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;

use imcore_server::broker::{write_broker_config, BrokerSetup};
use imcore_server::Config;

const HELP: &str = "\
imcore-server: the reference chat backend of imcore (HTTP API + Mosquitto or RabbitMQ).

USAGE:
  imcore-server [OPTIONS]                 run the server (until SIGINT / SIGTERM)
  imcore-server broker-config --dir DIR --mqtt-port N --ws-port N
                [--broker-admin-user U] --broker-admin-password P
                                          write DIR/mosquitto.conf and initial passwd/acl
  imcore-server free-port [COUNT]         print COUNT (default 1) free 127.0.0.1 ports

OPTIONS (each also read from the environment variable shown):
  --http ADDR                  bind address [IMCORE_HTTP, default 127.0.0.1:8080]
  --db PATH                    SQLite file [IMCORE_DB, default: in memory]
  --mqtt-host HOST             broker TCP host for the server's own connection
                               [IMCORE_MQTT_HOST, default 127.0.0.1]
  --mqtt-port N                [IMCORE_MQTT_PORT, default 1883]
  --mqtt-addrs H:P[,H:P...]    several broker TCP listeners (a cluster's nodes), tried in turn;
                               replaces --mqtt-host/--mqtt-port [IMCORE_MQTT_ADDRS]
  --ws-host HOST               broker host advertised in conn-config [IMCORE_WS_HOST, default 127.0.0.1]
  --ws-port N                  broker WebSocket port advertised in conn-config [IMCORE_WS_PORT, default 8083]
  --broker-urls URL[,URL...]   broker WebSocket URLs advertised in conn-config as `urls`; server/port
                               then come from the first [IMCORE_BROKER_URLS]
  --broker mosquitto|rabbitmq  mosquitto: security in --broker-dir's files; rabbitmq: answered at
                               POST /broker/auth/{user,vhost,resource,topic} for
                               rabbitmq_auth_backend_http [IMCORE_BROKER, default mosquitto]
  --broker-dir DIR             the broker's run folder (passwd, acl, mosquitto.pid) whose security
                               this server manages [IMCORE_BROKER_DIR; without it: not managed]
  --broker-admin-user U        the server's own MQTT user [IMCORE_BROKER_ADMIN_USER, default imcore-server]
  --broker-admin-password P    [IMCORE_BROKER_ADMIN_PASSWORD]
  --mqtt-client-id ID          the server's persistent MQTT session [IMCORE_MQTT_CLIENT_ID, default imcore-server]
  --secret S                   token signing secret [IMCORE_SECRET, default: random per start]
  --www DIR                    serve static files from DIR for paths the API does not take [IMCORE_WWW]
  --test-hooks                 enable POST /test/clock and /test/reset [IMCORE_TEST_HOOKS=1]

ENVIRONMENT:
  IMCORE_DEBUG=1               log the broker auth calls that are denied (2: every call)
";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let args: Vec<String> = match args.into_iter().map(OsString::into_string).collect() {
        Ok(a) => a,
        Err(_) => return fail("arguments must be UTF-8"),
    };
    match args.first().map(String::as_str) {
        Some("-h" | "--help" | "help") => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some("broker-config") => broker_config(args.get(1..).unwrap_or_default()),
        Some("free-port") => free_ports(args.get(1..).unwrap_or_default()),
        _ => run(&args),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("imcore-server: {msg}\n(see imcore-server --help)");
    ExitCode::from(2)
}

/// `--name value` pairs and bare flags.
struct Args {
    pairs: Vec<(String, Option<String>)>,
}

impl Args {
    fn parse(args: &[String], flags: &[&str]) -> Result<Args, String> {
        let mut pairs = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                return Err(format!("unexpected argument {a:?}"));
            };
            if let Some((n, v)) = name.split_once('=') {
                pairs.push((n.to_string(), Some(v.to_string())));
            } else if flags.contains(&name) {
                pairs.push((name.to_string(), None));
            } else {
                let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                pairs.push((name.to_string(), Some(v.clone())));
            }
        }
        Ok(Args { pairs })
    }

    /// The last `--name`, else the environment variable.
    fn value(&self, name: &str, env: &str) -> Option<String> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
            .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
    }

    fn flag(&self, name: &str, env: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
            || std::env::var(env).is_ok_and(|v| v == "1" || v == "true")
    }

    fn check_known(&self, known: &[&str]) -> Result<(), String> {
        match self
            .pairs
            .iter()
            .find(|(n, _)| !known.contains(&n.as_str()))
        {
            Some((n, _)) => Err(format!("unknown option --{n}")),
            None => Ok(()),
        }
    }
}

fn parse_port(name: &str, v: Option<String>, default: u16) -> Result<u16, String> {
    match v {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("--{name}: {v:?} is not a port")),
    }
}

/// `host:port[,host:port...]`.
fn parse_addrs(v: &str) -> Result<Vec<(String, u16)>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|one| {
            let (host, port) = one
                .rsplit_once(':')
                .filter(|(h, _)| !h.is_empty())
                .ok_or_else(|| format!("--mqtt-addrs: {one:?} is not host:port"))?;
            let port = port
                .parse()
                .map_err(|_| format!("--mqtt-addrs: {one:?} is not host:port"))?;
            Ok((host.trim_matches(['[', ']']).to_string(), port))
        })
        .collect::<Result<Vec<_>, String>>()
        .and_then(|a| {
            if a.is_empty() {
                Err("--mqtt-addrs: no address".into())
            } else {
                Ok(a)
            }
        })
}

/// `url[,url...]`, each a `ws[s]://host[:port][/path]`.
fn parse_urls(v: &str) -> Result<Vec<String>, String> {
    let urls: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if urls.is_empty() {
        return Err("--broker-urls: no URL".into());
    }
    match urls
        .iter()
        .find(|u| imcore_server::ws_host_port(u).is_none())
    {
        Some(bad) => Err(format!(
            "--broker-urls: {bad:?} is not a URL like ws://host:port/path"
        )),
        None => Ok(urls),
    }
}

fn config_from(args: &[String]) -> Result<Config, String> {
    let a = Args::parse(args, &["test-hooks"])?;
    a.check_known(&[
        "http",
        "db",
        "mqtt-host",
        "mqtt-port",
        "mqtt-addrs",
        "ws-host",
        "ws-port",
        "broker-urls",
        "broker",
        "broker-dir",
        "broker-admin-user",
        "broker-admin-password",
        "mqtt-client-id",
        "secret",
        "www",
        "test-hooks",
    ])?;
    let d = Config::default();
    let http = match a.value("http", "IMCORE_HTTP") {
        None => d.http,
        Some(v) => v
            .parse::<SocketAddr>()
            .map_err(|_| format!("--http: {v:?} is not an address like 127.0.0.1:8080"))?,
    };
    Ok(Config {
        http,
        db: a.value("db", "IMCORE_DB").map(PathBuf::from),
        mqtt_host: a
            .value("mqtt-host", "IMCORE_MQTT_HOST")
            .unwrap_or(d.mqtt_host),
        mqtt_port: parse_port(
            "mqtt-port",
            a.value("mqtt-port", "IMCORE_MQTT_PORT"),
            d.mqtt_port,
        )?,
        mqtt_addrs: match a.value("mqtt-addrs", "IMCORE_MQTT_ADDRS") {
            None => Vec::new(),
            Some(v) => parse_addrs(&v)?,
        },
        ws_host: a.value("ws-host", "IMCORE_WS_HOST").unwrap_or(d.ws_host),
        ws_port: parse_port("ws-port", a.value("ws-port", "IMCORE_WS_PORT"), d.ws_port)?,
        broker_urls: match a.value("broker-urls", "IMCORE_BROKER_URLS") {
            None => Vec::new(),
            Some(v) => parse_urls(&v)?,
        },
        broker: match a.value("broker", "IMCORE_BROKER") {
            None => d.broker,
            Some(v) => v.parse().map_err(|e| format!("--broker: {e}"))?,
        },
        broker_dir: a
            .value("broker-dir", "IMCORE_BROKER_DIR")
            .map(PathBuf::from),
        admin_user: a
            .value("broker-admin-user", "IMCORE_BROKER_ADMIN_USER")
            .unwrap_or(d.admin_user),
        admin_password: a
            .value("broker-admin-password", "IMCORE_BROKER_ADMIN_PASSWORD")
            .unwrap_or_default(),
        mqtt_client_id: a
            .value("mqtt-client-id", "IMCORE_MQTT_CLIENT_ID")
            .unwrap_or(d.mqtt_client_id),
        secret: a.value("secret", "IMCORE_SECRET"),
        www: a.value("www", "IMCORE_WWW").map(PathBuf::from),
        test_hooks: a.flag("test-hooks", "IMCORE_TEST_HOOKS"),
    })
}

fn run(args: &[String]) -> ExitCode {
    let config = match config_from(args) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("tokio runtime: {e}")),
    };
    runtime.block_on(async move {
        let running = match imcore_server::start(config).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("imcore-server: {e}");
                return ExitCode::FAILURE;
            }
        };
        running.run_until(shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn broker_config(args: &[String]) -> ExitCode {
    let result = (|| -> Result<(), String> {
        let a = Args::parse(args, &[])?;
        a.check_known(&[
            "dir",
            "mqtt-port",
            "ws-port",
            "broker-admin-user",
            "broker-admin-password",
        ])?;
        let setup = BrokerSetup {
            dir: PathBuf::from(
                a.value("dir", "IMCORE_BROKER_DIR")
                    .ok_or("--dir is required")?,
            ),
            mqtt_port: parse_port("mqtt-port", a.value("mqtt-port", "IMCORE_MQTT_PORT"), 0)?,
            ws_port: parse_port("ws-port", a.value("ws-port", "IMCORE_WS_PORT"), 0)?,
            admin_user: a
                .value("broker-admin-user", "IMCORE_BROKER_ADMIN_USER")
                .unwrap_or_else(|| "imcore-server".into()),
            admin_password: a
                .value("broker-admin-password", "IMCORE_BROKER_ADMIN_PASSWORD")
                .ok_or("--broker-admin-password is required")?,
        };
        if setup.mqtt_port == 0 || setup.ws_port == 0 {
            return Err("--mqtt-port and --ws-port are required".into());
        }
        write_broker_config(&setup).map_err(|e| e.to_string())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Binds `COUNT` listeners on 127.0.0.1:0 at once (so the ports differ) and prints them.
fn free_ports(args: &[String]) -> ExitCode {
    let count: usize = match args.first().map(|s| s.parse()) {
        None => 1,
        Some(Ok(n)) if (1..=16).contains(&n) => n,
        _ => return fail("free-port COUNT: 1..=16"),
    };
    let mut held = Vec::new();
    for _ in 0..count {
        match TcpListener::bind(("127.0.0.1", 0)).and_then(|l| Ok((l.local_addr()?.port(), l))) {
            Ok(pair) => held.push(pair),
            Err(e) => return fail(&format!("bind: {e}")),
        }
    }
    let ports: Vec<String> = held.iter().map(|(p, _)| p.to_string()).collect();
    println!("{}", ports.join(" "));
    ExitCode::SUCCESS
}

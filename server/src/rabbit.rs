//! RabbitMQ's side of the security: the answers to `rabbitmq_auth_backend_http`.
//!
//! With `--broker rabbitmq` the broker asks this server, for every connection and every
//! access, with a form-encoded `POST` to one of four paths:
//!
//! | path | fields | question |
//! | --- | --- | --- |
//! | `/broker/auth/user` | `username`, `password` (and whatever else the plugin adds) | may this user log in? |
//! | `/broker/auth/vhost` | `username`, `vhost`, `ip` | may it use this virtual host? |
//! | `/broker/auth/resource` | `username`, `vhost`, `resource` (`exchange`, `queue`), `name`, `permission` (`configure`, `write`, `read`) | may it use this exchange or queue? |
//! | `/broker/auth/topic` | `username`, `vhost`, `resource` (`topic`), `name` (the exchange), `permission` (`write`, `read`), `routing_key`, plus variables such as `client_id` | may it publish to / subscribe to this topic? |
//!
//! The answer is the plain text `allow` or `deny`. Everything comes from the same state and
//! the same rule ([`SecurityState::grants`]) as Mosquitto's `acl` file:
//!
//! - the server's own user (checked against its password) may do everything;
//! - user `N` logs in only with its *current* password (a rotated one is refused), reads
//!   `chat_N`, every `presence_M` and the `room_R` of the rooms it joined, writes only
//!   `presence_N`; it may read and write the exchange `amq.topic` and use only its own MQTT
//!   subscription queues `mqtt-subscription-{client id}qos0` / `…qos1`, for the client ids
//!   that are its own: `chat_N` and `chat_N-…` (another device or tool of the same user), so
//!   nobody else can take over or drain its persistent session;
//! - anything else (other virtual hosts, exchanges, queues, unknown users or paths) is
//!   denied.
//!
//! RabbitMQ hands MQTT topics over as AMQP routing keys: `/` becomes `.` and a
//! subscription's `+` becomes `*` (`#` stays). [`mqtt_topic`] turns them back.

use std::collections::BTreeMap;

use crate::broker::{Access, Principal, SecurityState};

/// The virtual host the MQTT plugins use (their default).
pub const VHOST: &str = "/";
/// The exchange the MQTT plugins publish to and bind subscriptions on (their default).
pub const EXCHANGE: &str = "amq.topic";

/// Which of the four questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthPath {
    User,
    Vhost,
    Resource,
    Topic,
}

impl AuthPath {
    /// The last segment of `/broker/auth/{user,vhost,resource,topic}`.
    pub fn from_segment(segment: &str) -> Option<AuthPath> {
        match segment {
            "user" => Some(AuthPath::User),
            "vhost" => Some(AuthPath::Vhost),
            "resource" => Some(AuthPath::Resource),
            "topic" => Some(AuthPath::Topic),
            _ => None,
        }
    }
}

/// One auth call: the path and its form fields (the last value of a repeated name wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub path: AuthPath,
    pub fields: BTreeMap<String, String>,
}

impl AuthRequest {
    /// Parses an `application/x-www-form-urlencoded` body (`+` is a space, `%XX` a byte;
    /// invalid UTF-8 is replaced, so such a name matches no user).
    pub fn parse(path: AuthPath, body: &[u8]) -> AuthRequest {
        let fields = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        AuthRequest { path, fields }
    }

    fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }

    /// For logs: every field but the password.
    pub fn describe(&self) -> String {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| {
                if k == "password" {
                    format!("{k}=<{} chars>", v.chars().count())
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        format!("{:?} {}", self.path, fields.join(" "))
    }
}

/// The answer to `request` from `state`.
pub(crate) fn decide(state: &SecurityState, request: &AuthRequest) -> bool {
    let Some(who) = state.principal(request.field("username")) else {
        return false;
    };
    match request.path {
        AuthPath::User => state.password_ok(who, request.field("password")),
        AuthPath::Vhost => request.field("vhost") == VHOST,
        AuthPath::Resource => {
            request.field("vhost") == VHOST
                && resource_allowed(
                    who,
                    request.field("resource"),
                    request.field("name"),
                    request.field("permission"),
                )
        }
        AuthPath::Topic => {
            let wanted = match request.field("permission") {
                "read" => Access::Read,
                "write" => Access::Write,
                _ => return false,
            };
            request.field("vhost") == VHOST
                && request.field("resource") == "topic"
                && request.field("name") == EXCHANGE
                && topic_allowed(
                    state,
                    who,
                    &mqtt_topic(request.field("routing_key")),
                    wanted,
                )
        }
    }
}

/// Exchanges and queues: the server's own user everything; a user the exchange
/// `amq.topic` (read, write) and its own subscription queues (any permission).
fn resource_allowed(who: Principal, resource: &str, name: &str, permission: &str) -> bool {
    if !matches!(permission, "configure" | "write" | "read") {
        return false;
    }
    let id = match who {
        Principal::Admin => return matches!(resource, "exchange" | "queue"),
        Principal::User(id) => id,
    };
    match resource {
        "exchange" => name == EXCHANGE && matches!(permission, "read" | "write"),
        "queue" => own_queue(id, name),
        _ => false,
    }
}

/// Whether `name` is one of the queues the MQTT plugin (3.10) declares for the
/// subscriptions of a client id of user `id`: `mqtt-subscription-{client id}qos0|qos1`,
/// the client id `chat_N` or `chat_N-{anything}`.
pub fn own_queue(id: u64, name: &str) -> bool {
    let Some(client_id) = name
        .strip_prefix("mqtt-subscription-")
        .and_then(|n| n.strip_suffix("qos0").or_else(|| n.strip_suffix("qos1")))
    else {
        return false;
    };
    let Some(rest) = client_id.strip_prefix(&format!("chat_{id}")) else {
        return false;
    };
    rest.is_empty() || rest.len() > 1 && rest.starts_with('-')
}

/// Whether one of `who`'s grants covers `topic` (a topic, or a subscription's filter) for
/// `wanted`.
pub(crate) fn topic_allowed(
    state: &SecurityState,
    who: Principal,
    topic: &str,
    wanted: Access,
) -> bool {
    state
        .grants(who)
        .iter()
        .any(|g| g.access.allows(wanted) && filter_covers(&g.topic, topic))
}

/// Whether every topic `requested` matches also matches `grant` (both MQTT filters):
/// `#` in the grant covers the rest, `+` one level that is not a wildcard-rest.
pub fn filter_covers(grant: &str, requested: &str) -> bool {
    let mut g = grant.split('/');
    let mut r = requested.split('/');
    loop {
        match (g.next(), r.next()) {
            (Some("#"), _) => return true,
            (None, None) => return true,
            (Some("+"), Some(level)) if level != "#" => {}
            (Some(a), Some(b)) if a == b && a != "+" => {}
            _ => return false,
        }
    }
}

/// An AMQP routing key from the MQTT plugin back to the MQTT topic (filter): `.` → `/`,
/// `*` → `+` (RabbitMQ 3.10's `rabbit_mqtt_util:mqtt_to_amqp` the other way round).
pub fn mqtt_topic(routing_key: &str) -> String {
    routing_key
        .chars()
        .map(|c| match c {
            '.' => '/',
            '*' => '+',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{hash_password, UserEntry};

    fn state() -> SecurityState {
        let mut users = BTreeMap::new();
        users.insert(
            1,
            UserEntry {
                hash: Some(hash_password("pw1")),
                rooms: [7].into(),
            },
        );
        users.insert(
            2,
            UserEntry {
                hash: Some(hash_password("pw2")),
                rooms: Default::default(),
            },
        );
        users.insert(3, UserEntry::default());
        SecurityState {
            admin_user: "imcore-server".into(),
            admin_hash: hash_password("admin-pw"),
            probe_hash: None,
            users,
        }
    }

    fn req(path: AuthPath, fields: &[(&str, &str)]) -> AuthRequest {
        AuthRequest {
            path,
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn user(name: &str, password: &str) -> AuthRequest {
        req(
            AuthPath::User,
            &[("username", name), ("password", password)],
        )
    }

    fn topic(name: &str, permission: &str, key: &str) -> AuthRequest {
        req(
            AuthPath::Topic,
            &[
                ("username", name),
                ("vhost", "/"),
                ("resource", "topic"),
                ("name", "amq.topic"),
                ("permission", permission),
                ("routing_key", key),
                ("client_id", "whatever"),
            ],
        )
    }

    fn resource(name: &str, kind: &str, what: &str, permission: &str) -> AuthRequest {
        req(
            AuthPath::Resource,
            &[
                ("username", name),
                ("vhost", "/"),
                ("resource", kind),
                ("name", what),
                ("permission", permission),
            ],
        )
    }

    #[test]
    fn form_bodies_parse() {
        let r = AuthRequest::parse(
            AuthPath::Topic,
            b"username=12&vhost=%2F&resource=topic&name=amq.topic&permission=read\
              &routing_key=chat_12&client_id=chat_12&password=a+b%26c&empty=",
        );
        assert_eq!(r.path, AuthPath::Topic);
        assert_eq!(r.field("vhost"), "/");
        assert_eq!(r.field("routing_key"), "chat_12");
        assert_eq!(r.field("password"), "a b&c");
        assert_eq!(r.field("empty"), "");
        assert_eq!(r.field("missing"), "");
        assert!(!r.describe().contains("a b&c"));
        let last = AuthRequest::parse(AuthPath::User, b"username=1&username=2");
        assert_eq!(last.field("username"), "2");
        let bad = AuthRequest::parse(AuthPath::User, b"username=%FF1&%zz=%");
        assert_ne!(bad.field("username"), "1");
        assert_eq!(AuthPath::from_segment("vhost"), Some(AuthPath::Vhost));
        assert_eq!(AuthPath::from_segment("other"), None);
    }

    #[test]
    fn logins_need_the_current_password() {
        let mut s = state();
        assert!(decide(&s, &user("1", "pw1")));
        assert!(!decide(&s, &user("1", "pw2")), "another user's password");
        assert!(!decide(&s, &user("1", "")));
        assert!(!decide(&s, &user("3", "")), "no password yet");
        assert!(!decide(&s, &user("4", "pw1")), "unknown user");
        assert!(!decide(&s, &user("01", "pw1")), "not the same name");
        assert!(decide(&s, &user("imcore-server", "admin-pw")));
        assert!(!decide(&s, &user("imcore-server", "pw1")));
        assert!(!decide(&s, &user("imcore-reload-probe", "x")));
        // A conn-config rotates the password: the previous one is refused at once.
        s.users.get_mut(&1).unwrap().hash = Some(hash_password("pw1-new"));
        assert!(!decide(&s, &user("1", "pw1")));
        assert!(decide(&s, &user("1", "pw1-new")));
    }

    #[test]
    fn vhosts() {
        let s = state();
        let v = |name: &str, vhost: &str| {
            req(
                AuthPath::Vhost,
                &[("username", name), ("vhost", vhost), ("ip", "127.0.0.1")],
            )
        };
        assert!(decide(&s, &v("1", "/")));
        assert!(decide(&s, &v("imcore-server", "/")));
        assert!(!decide(&s, &v("1", "other")));
        assert!(!decide(&s, &v("9", "/")));
    }

    #[test]
    fn topics_follow_the_acl() {
        let s = state();
        // Own chat topic: read only.
        assert!(decide(&s, &topic("1", "read", "chat_1")));
        assert!(!decide(&s, &topic("1", "write", "chat_1")));
        // Another user's chat topic: refused.
        assert!(!decide(&s, &topic("1", "read", "chat_2")));
        assert!(!decide(&s, &topic("2", "read", "chat_1")));
        // Presence: read everyone's, write only one's own.
        assert!(decide(&s, &topic("1", "read", "presence_2")));
        assert!(decide(&s, &topic("1", "read", "presence_3")));
        assert!(decide(&s, &topic("1", "write", "presence_1")));
        assert!(!decide(&s, &topic("1", "write", "presence_2")));
        // Rooms: only joined ones, read only.
        assert!(decide(&s, &topic("1", "read", "room_7")));
        assert!(!decide(&s, &topic("1", "write", "room_7")));
        assert!(!decide(&s, &topic("2", "read", "room_7")));
        // Wildcard subscriptions (as routing keys) are not covered by literal grants.
        for key in ["#", "*", "chat_*", "presence_#", "chat_1.#", "chat_1.*"] {
            assert!(!decide(&s, &topic("1", "read", key)), "{key}");
        }
        // The server's own user: everything.
        for key in ["chat_1", "room_9", "#", "a.b.*"] {
            assert!(decide(&s, &topic("imcore-server", "write", key)), "{key}");
            assert!(decide(&s, &topic("imcore-server", "read", key)), "{key}");
        }
        // Anything unusual is refused.
        assert!(!decide(&s, &topic("1", "configure", "chat_1")));
        assert!(!decide(&s, &topic("9", "read", "chat_9")));
        let mut other_exchange = topic("1", "read", "chat_1");
        other_exchange
            .fields
            .insert("name".into(), "amq.fanout".into());
        assert!(!decide(&s, &other_exchange));
        let mut other_vhost = topic("1", "read", "chat_1");
        other_vhost.fields.insert("vhost".into(), "v".into());
        assert!(!decide(&s, &other_vhost));
    }

    #[test]
    fn queues_and_exchanges() {
        let s = state();
        for permission in ["configure", "write", "read"] {
            assert!(decide(
                &s,
                &resource("1", "queue", "mqtt-subscription-chat_1qos1", permission)
            ));
            assert!(decide(
                &s,
                &resource("1", "queue", "mqtt-subscription-chat_1qos0", permission)
            ));
            assert!(!decide(
                &s,
                &resource("1", "queue", "mqtt-subscription-chat_2qos1", permission)
            ));
            assert!(decide(
                &s,
                &resource("imcore-server", "queue", "anything", permission)
            ));
        }
        assert!(!decide(
            &s,
            &resource("1", "queue", "mqtt-subscription-chat_1qos2", "read")
        ));
        // Another client id of the same user; not one of a user whose id starts the same.
        assert!(decide(
            &s,
            &resource("1", "queue", "mqtt-subscription-chat_1-e2e-x1qos1", "read")
        ));
        for other in ["chat_10qos1", "chat_1-qos1", "chat_1xqos1", "chat_2-1qos1"] {
            let name = format!("mqtt-subscription-{other}");
            assert!(
                !decide(&s, &resource("1", "queue", &name, "read")),
                "{name}"
            );
        }
        assert!(!decide(&s, &resource("1", "queue", "amq.gen-x", "read")));
        assert!(decide(&s, &resource("1", "exchange", "amq.topic", "write")));
        assert!(decide(&s, &resource("1", "exchange", "amq.topic", "read")));
        assert!(!decide(
            &s,
            &resource("1", "exchange", "amq.topic", "configure")
        ));
        assert!(!decide(
            &s,
            &resource("1", "exchange", "amq.direct", "write")
        ));
        assert!(!decide(&s, &resource("1", "topic", "amq.topic", "read")));
        assert!(!decide(&s, &resource("9", "exchange", "amq.topic", "read")));
        assert!(!decide(
            &s,
            &resource("1", "queue", "mqtt-subscription-chat_1qos1", "admin")
        ));
    }

    #[test]
    fn the_acl_file_and_the_answers_share_the_rule() {
        let s = state();
        let acl = s.render_acl();
        for id in [1u64, 2, 3] {
            for grant in s.grants(Principal::User(id)) {
                let line = format!("topic {} {}\n", grant.access.acl_word(), grant.topic);
                assert!(acl.contains(&line), "{line}");
                for (word, access) in [("read", Access::Read), ("write", Access::Write)] {
                    if grant.access.allows(access) {
                        assert!(
                            decide(&s, &topic(&id.to_string(), word, &grant.topic)),
                            "{id} {word} {grant:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn filters_and_routing_keys() {
        assert_eq!(mqtt_topic("a.b.*"), "a/b/+");
        assert_eq!(mqtt_topic("chat_1"), "chat_1");
        assert_eq!(mqtt_topic("a.#"), "a/#");
        assert!(filter_covers("#", "a/b"));
        assert!(filter_covers("#", "#"));
        assert!(filter_covers("a/+", "a/b"));
        assert!(filter_covers("a/+", "a/+"));
        assert!(!filter_covers("a/+", "a/#"));
        assert!(!filter_covers("a/+", "a/b/c"));
        assert!(filter_covers("a/#", "a/b/c"));
        assert!(!filter_covers("chat_1", "chat_1/x"));
        assert!(!filter_covers("chat_1", "+"));
        assert!(!filter_covers("chat_1/x", "chat_1"));
    }
}

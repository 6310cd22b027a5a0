//! The backend's side (backend mode): conn-config before every connection attempt, clock
//! samples against `GET /time`, the catch-up after every connect, and the answers to every
//! request, matched to what asked for them.

use super::*;
use crate::chat::api::{self, ApiError, ConversationRow};
use crate::chat::WireMessage;
use crate::collections::Fifo;
use crate::session::Credentials;
use crate::storage::{meta, StorageBatch};

/// How far before a lost connection the catch-up looks: messages in flight at the drop,
/// and a drop noticed late (a dead link is found by the keepalive, 1.5 × 60 s).
pub const CATCH_UP_MARGIN_MS: u64 = 120_000;
/// At most this many history pages per conversation in one catch-up.
pub const CATCH_UP_MAX_PAGES: usize = 10;
/// After a failed clock sample, the timer tries again after this long, doubling up to
/// [`CALIBRATE_RETRY_MAX_MS`] (a send still samples at once when the clock needs it).
pub const CALIBRATE_RETRY_MS: u64 = 5_000;
pub const CALIBRATE_RETRY_MAX_MS: u64 = 300_000;

/// A catch-up in progress: the rows of `GET /conversations` still to look at, and the
/// conversation whose history is being read.
#[derive(Debug)]
pub(super) struct CatchUp {
    rows: Fifo<ConversationRow>,
    /// Server time from which history is re-read (`None`: only what is not held).
    from: Option<u64>,
    current: Option<Reading>,
}

#[derive(Debug)]
struct Reading {
    conversation: ConversationId,
    unread: Option<(u32, u64)>,
    limit: usize,
    pages: usize,
    page: Vec<WireMessage>,
}

/// An HTTP answer: the status and body, or why there was none.
pub type HttpAnswer = Result<(u16, Vec<u8>), ApiError>;

impl ChatEngine {
    /// Backend mode: the request to make before a connection attempt (`None` in direct
    /// mode, where credentials are the page's).
    pub fn conn_config_request(&self) -> Option<api::Request> {
        self.is_backend().then(api::conn_config)
    }

    /// conn-config's answer: the broker URL and the credentials of this attempt. The
    /// topics it names are subscribed from now on. `page_protocol` is the page's
    /// `location.protocol` (`None` where there is no page: a mini-program).
    pub fn handle_conn_config(
        &mut self,
        answer: HttpAnswer,
        page_protocol: Option<&str>,
    ) -> Result<(Vec<String>, Credentials), String> {
        let config = answer
            .and_then(|(status, body)| api::parse_conn_config(status, &body))
            .map_err(|e| format!("conn-config: {e}"))?;
        // No page (a mini-program): production brokers are wss://.
        let secure = page_protocol.is_none_or(|p| p == "https:");
        self.topics = config.sub_topics.clone();
        if self.topics.is_empty() {
            self.topics.push(topics::chat(self.me));
        }
        let urls = match &self.mode {
            Mode::Backend {
                mqtt_urls: Some(urls),
            } => urls.clone(),
            _ => config.urls(secure),
        };
        Ok((
            urls,
            Credentials {
                username: Some(config.user_id.to_string()),
                password: Some(config.password.into_bytes()),
            },
        ))
    }

    /// The answer to request `id`.
    pub fn handle_http(&mut self, now: Now, id: HttpId, answer: HttpAnswer) {
        let Some(pending) = self.http.remove(&id) else {
            return;
        };
        if self.closed {
            // Logged out: nothing more is applied or written (its call settled then).
            return;
        }
        match pending {
            HttpPending::Time(token) => self.sampled(now, token, answer),
            HttpPending::Send { local_id } => {
                let answer = answer.and_then(|(s, b)| api::parse_sent(s, &b));
                self.sent(&local_id, answer);
            }
            HttpPending::Resend { id, local_id } => {
                let answer = answer.and_then(|(s, b)| api::parse_resent(s, &b));
                self.resent(id, &local_id, answer);
            }
            HttpPending::Revoke {
                command,
                id,
                conversation,
            } => {
                let answer = answer.and_then(|(s, b)| api::parse_ok(s, &b));
                self.revoked(now, command, id, conversation, answer);
            }
            HttpPending::Read {
                conversation,
                command,
            } => {
                let answer = answer
                    .and_then(|(s, b)| api::parse_ok(s, &b))
                    .map_err(|e| ChatError::from(&e));
                self.receipt_done(conversation, command, answer);
            }
            HttpPending::History(job) => {
                let answer = answer.and_then(|(s, b)| api::parse_history(s, &b));
                self.page_from_backend(now, job, answer);
            }
            HttpPending::Room {
                command,
                room,
                join,
            } => match answer.and_then(|(s, b)| api::parse_ok(s, &b)) {
                Ok(()) => self.room_topic(now, command, room, join),
                Err(e) => self.done(command, Err(ChatError::from(&e))),
            },
            HttpPending::Conversations { offline_since } => {
                let rows = match answer {
                    Ok((200, body)) => api::parse_conversations(&body),
                    _ => None,
                };
                if let Some(rows) = rows {
                    let from = offline_since.map(|t| t.saturating_sub(CATCH_UP_MARGIN_MS));
                    self.catch_up_next(
                        now,
                        Box::new(CatchUp {
                            rows: rows.into(),
                            from,
                            current: None,
                        }),
                    );
                }
            }
            HttpPending::CatchUp(job) => {
                let answer = answer.and_then(|(s, b)| api::parse_history(s, &b));
                self.catch_up_page(now, job, answer);
            }
        }
    }

    /// Starts a clock sample against `GET /time` (backend mode; one at a time).
    pub(super) fn calibrate(&mut self, now: Now) {
        if self.calibrating || !self.is_backend() {
            return;
        }
        self.calibrating = true;
        let token = self.clock.begin_sample(now.mono_ms, now.wall_ms);
        self.http(api::time(), HttpPending::Time(token));
    }

    /// A sample, when the clock needs one (backend mode).
    pub(super) fn calibrate_if_needed(&mut self, now: Now) {
        if self.is_backend() && self.clock.needs_calibration(now.mono_ms, now.wall_ms) {
            self.calibrate(now);
        }
    }

    fn sampled(&mut self, now: Now, token: crate::chat::clock::SampleToken, answer: HttpAnswer) {
        self.calibrating = false;
        let server = match answer.and_then(|(s, b)| api::parse_time(s, &b)) {
            Ok(server) => server,
            Err(e) => {
                self.calibration_failed(now);
                return self.log(LogLevel::Warn, format!("GET /time failed: {e}"));
            }
        };
        match self
            .clock
            .finish_sample(token, server, now.mono_ms, now.wall_ms)
        {
            Ok(c) => {
                self.calibrate_retry = None;
                self.log(
                    LogLevel::Debug,
                    format!("clock offset {} ms ± {}", c.offset_ms, c.error_bound_ms),
                );
                // The next start assumes it until its first sample.
                self.push(Output::Persist(Box::new(StorageBatch {
                    store: Default::default(),
                    put_meta: vec![(meta::CLOCK_OFFSET.to_string(), c.offset_ms.to_string())],
                })));
            }
            Err(e) => {
                self.calibration_failed(now);
                self.log(LogLevel::Warn, format!("clock sample dropped: {e}"));
            }
        }
    }

    /// The timer's next sample waits: 5 s after the first failure, doubling up to 5 min.
    fn calibration_failed(&mut self, now: Now) {
        let wait = self.calibrate_retry.map_or(CALIBRATE_RETRY_MS, |(_, w)| {
            w.saturating_mul(2).min(CALIBRATE_RETRY_MAX_MS)
        });
        self.calibrate_retry = Some((now.mono_ms.saturating_add(wait), wait));
    }

    /// After every connect in backend mode, from `GET /conversations`: the history of every
    /// conversation this client may have missed something of, then the backend's unread
    /// count of each (what was read on another device is read here too).
    ///
    /// * A conversation whose last message this client does not hold (a first start on
    ///   this device): its newest page, big enough for the unread ones.
    /// * After a connection was lost at `offline_since` (server time): every conversation
    ///   with a message since then, paged back to `offline_since - CATCH_UP_MARGIN_MS`. The
    ///   broker does not keep every message for an offline client: a Mosquitto restarted
    ///   after a crash drops what is published to a restored session before its client is
    ///   back, and anything in flight at the crash is gone. A gap may sit before a last
    ///   message this client holds (its own, sent over HTTP), so knowing the last one is
    ///   not enough.
    pub(super) fn catch_up(&mut self, offline_since: Option<u64>) {
        self.http(
            api::conversations(),
            HttpPending::Conversations { offline_since },
        );
    }

    /// Moves on to the next row that needs history; rows that need none are applied as
    /// they come (their unread count).
    fn catch_up_next(&mut self, now: Now, mut job: Box<CatchUp>) {
        while let Some(row) = job.rows.pop_front() {
            let Ok(conversation) = row.conversation_id.parse::<ConversationId>() else {
                continue;
            };
            let known = row
                .last_msg_id
                .is_none_or(|id| self.store.message(&MessageRef::Server(id)).is_some());
            let active = matches!((job.from, row.last_msg_time), (Some(f), Some(t)) if t >= f);
            let unread = row.unread.zip(row.last_msg_time);
            if known && !active {
                self.enqueue(
                    now,
                    Queued::CatchUp {
                        conversation,
                        page: Vec::new(),
                        unread,
                    },
                );
                continue;
            }
            // Enough for the unread ones to show their count.
            let limit = self
                .page_size
                .max(row.unread.unwrap_or(0) as usize)
                .clamp(1, api::HISTORY_LIMIT as usize);
            job.current = Some(Reading {
                conversation,
                unread,
                limit,
                pages: 1,
                page: Vec::new(),
            });
            let request = api::history(conversation, None, limit);
            return self.http(request, HttpPending::CatchUp(job));
        }
    }

    fn catch_up_page(
        &mut self,
        now: Now,
        mut job: Box<CatchUp>,
        answer: Result<Vec<WireMessage>, ApiError>,
    ) {
        let Some(mut reading) = job.current.take() else {
            return self.catch_up_next(now, job);
        };
        let complete = match answer {
            Ok(p) => {
                let oldest = p.iter().map(|m| m.weight).min();
                let full = p.len() >= reading.limit;
                reading.page.extend(p);
                match (oldest, job.from) {
                    (Some(w), Some(f)) if full && w >= f && reading.pages < CATCH_UP_MAX_PAGES => {
                        reading.pages += 1;
                        let request = api::history(reading.conversation, Some(w), reading.limit);
                        job.current = Some(reading);
                        return self.http(request, HttpPending::CatchUp(job));
                    }
                    _ => true,
                }
            }
            Err(_) => false,
        };
        // Without the page the count cannot be matched to messages.
        if complete || !reading.page.is_empty() {
            self.enqueue(
                now,
                Queued::CatchUp {
                    conversation: reading.conversation,
                    page: reading.page,
                    unread: reading.unread,
                },
            );
        }
        self.catch_up_next(now, job);
    }
}

//! SQLite storage: users, rooms and memberships, messages, 1:1 conversations with unread
//! counts. One connection behind a mutex; every call is short and holds no lock across an
//! `.await`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::ApiError;

/// The demo users: id, nick name.
pub const USERS: [(u64, &str); 5] = [
    (1, "alice"),
    (2, "bob"),
    (3, "carol"),
    (4, "dave"),
    (5, "erin"),
];

/// The rooms: id, name.
pub const ROOMS: [(u64, &str); 3] = [(1, "general"), (2, "random"), (3, "rust")];

/// `status` values of PROTOCOL.md.
pub const STATUS_SENT: i64 = 1;
pub const STATUS_FAILED: i64 = 2;
pub const STATUS_REVOKED: i64 = 3;

/// The largest id a JavaScript `number` holds exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    nick_name TEXT NOT NULL,
    avatar TEXT NOT NULL,
    mqtt_hash TEXT
);
CREATE TABLE IF NOT EXISTS rooms (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS room_members (
    room_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    unread INTEGER NOT NULL DEFAULT 0,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    sender_id INTEGER NOT NULL,
    receiver_id INTEGER NOT NULL,
    msg_type INTEGER NOT NULL,
    msg_content TEXT NOT NULL,
    weight INTEGER NOT NULL,
    create_time INTEGER NOT NULL,
    is_read INTEGER NOT NULL DEFAULT 0,
    status INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation_id, weight, id);
CREATE TABLE IF NOT EXISTS conversations (
    conversation_id TEXT PRIMARY KEY,
    user_id_1 INTEGER NOT NULL,
    user_id_2 INTEGER NOT NULL,
    user_id_1_unread INTEGER NOT NULL DEFAULT 0,
    user_id_2_unread INTEGER NOT NULL DEFAULT 0
);
";

/// A user's id, MQTT password hash and joined rooms.
pub type SecurityEntry = (u64, Option<String>, BTreeSet<u64>);

#[derive(Debug, Clone)]
pub struct User {
    pub id: u64,
    pub nick_name: String,
    pub avatar: String,
}

#[derive(Debug, Clone)]
pub struct Room {
    pub id: u64,
    pub name: String,
    pub members: Vec<u64>,
}

/// A stored message.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: u64,
    pub conversation_id: String,
    pub sender_id: u64,
    pub receiver_id: u64,
    pub msg_type: i64,
    /// JSON text of `msg_content`.
    pub msg_content: String,
    pub weight: u64,
    /// Server clock at insert, Unix ms: the revoke rule's reference.
    pub create_time: u64,
    pub is_read: bool,
    pub status: i64,
}

/// What a new message is; the id and the insert time come from the store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: String,
    pub sender_id: u64,
    pub receiver_id: u64,
    pub msg_type: i64,
    pub msg_content: String,
    pub weight: u64,
    pub now: u64,
    /// Where the unread count goes: a 1:1 receiver, every other member of a room, or
    /// nobody (room notices).
    pub unread: Unread,
}

/// Which way a room membership changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Join,
    Leave,
}

#[derive(Debug, Clone, Copy)]
pub enum Unread {
    Direct { low: u64, high: u64, receiver: u64 },
    Room(u64),
    None,
}

/// One row of `GET /conversations`.
#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub conversation_id: String,
    pub user_id_1: u64,
    pub user_id_2: u64,
    pub user_id_1_unread: u64,
    pub user_id_2_unread: u64,
    pub room: Option<(u64, String)>,
    pub last: Option<MessageRow>,
    /// Sort key when there is no message: when the room was joined.
    pub since: u64,
}

#[derive(Debug)]
pub struct Db {
    conn: Mutex<Connection>,
    next_id: AtomicU64,
}

const MESSAGE_COLUMNS: &str = "id, conversation_id, sender_id, receiver_id, msg_type, \
     msg_content, weight, create_time, is_read, status";

fn message_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        id: r.get::<_, i64>(0)?.max(0).unsigned_abs(),
        conversation_id: r.get(1)?,
        sender_id: r.get::<_, i64>(2)?.max(0).unsigned_abs(),
        receiver_id: r.get::<_, i64>(3)?.max(0).unsigned_abs(),
        msg_type: r.get(4)?,
        msg_content: r.get(5)?,
        weight: r.get::<_, i64>(6)?.max(0).unsigned_abs(),
        create_time: r.get::<_, i64>(7)?.max(0).unsigned_abs(),
        is_read: r.get::<_, i64>(8)? != 0,
        status: r.get(9)?,
    })
}

/// u64 → SQLite integer; every value stored here is below 2^53.
fn sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unsigned(v: i64) -> u64 {
    v.max(0).unsigned_abs()
}

impl Db {
    /// Opens (or creates) the database; `None`: in memory. Seeds users and rooms.
    pub fn open(path: Option<&Path>, now_ms: u64) -> Result<Db, rusqlite::Error> {
        let conn = match path {
            Some(p) => Connection::open(p)?,
            None => Connection::open_in_memory()?,
        };
        conn.execute_batch(SCHEMA)?;
        for (id, name) in USERS {
            conn.execute(
                "INSERT OR IGNORE INTO users (id, nick_name, avatar) VALUES (?1, ?2, ?3)",
                params![sql(id), name, format!("/avatars/{id}.svg")],
            )?;
        }
        for (id, name) in ROOMS {
            conn.execute(
                "INSERT OR IGNORE INTO rooms (id, name) VALUES (?1, ?2)",
                params![sql(id), name],
            )?;
        }
        let max: Option<i64> = conn.query_row("SELECT MAX(id) FROM messages", [], |r| r.get(0))?;
        // Ids start from the wall clock × 1000 (about 1.8e15 < 2^53 until the 2250s), so
        // an in-memory database that restarts does not hand out ids that clients still hold.
        let next = unsigned(max.unwrap_or(0))
            .saturating_add(1)
            .max(now_ms.saturating_mul(1000).min(MAX_SAFE_INTEGER / 2));
        Ok(Db {
            conn: Mutex::new(conn),
            next_id: AtomicU64::new(next),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, ApiError> {
        self.conn
            .lock()
            .map_err(|_| ApiError::Internal("database lock poisoned".into()))
    }

    pub fn user(&self, id: u64) -> Result<Option<User>, ApiError> {
        let conn = self.conn()?;
        Ok(conn
            .query_row(
                "SELECT id, nick_name, avatar FROM users WHERE id = ?1",
                [sql(id)],
                |r| {
                    Ok(User {
                        id: unsigned(r.get(0)?),
                        nick_name: r.get(1)?,
                        avatar: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn users(&self) -> Result<Vec<User>, ApiError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT id, nick_name, avatar FROM users ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(User {
                id: unsigned(r.get(0)?),
                nick_name: r.get(1)?,
                avatar: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn set_mqtt_hash(&self, user: u64, hash: &str) -> Result<(), ApiError> {
        self.conn()?.execute(
            "UPDATE users SET mqtt_hash = ?2 WHERE id = ?1",
            params![sql(user), hash],
        )?;
        Ok(())
    }

    /// Every user with its password hash and joined rooms: the broker's files.
    pub fn security_entries(&self) -> Result<Vec<SecurityEntry>, ApiError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT id, mqtt_hash FROM users ORDER BY id")?;
        let users: Vec<(u64, Option<String>)> = stmt
            .query_map([], |r| Ok((unsigned(r.get(0)?), r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        drop(stmt);
        let mut out = Vec::with_capacity(users.len());
        for (id, hash) in users {
            let rooms = rooms_of(&conn, id)?.into_iter().collect();
            out.push((id, hash, rooms));
        }
        Ok(out)
    }

    pub fn rooms_of(&self, user: u64) -> Result<Vec<u64>, ApiError> {
        rooms_of(&*self.conn()?, user)
    }

    pub fn room(&self, id: u64) -> Result<Option<Room>, ApiError> {
        let conn = self.conn()?;
        let name: Option<String> = conn
            .query_row("SELECT name FROM rooms WHERE id = ?1", [sql(id)], |r| {
                r.get(0)
            })
            .optional()?;
        match name {
            None => Ok(None),
            Some(name) => Ok(Some(Room {
                id,
                name,
                members: members(&conn, id)?,
            })),
        }
    }

    pub fn rooms(&self) -> Result<Vec<Room>, ApiError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT id, name FROM rooms ORDER BY id")?;
        let rooms: Vec<(u64, String)> = stmt
            .query_map([], |r| Ok((unsigned(r.get(0)?), r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        drop(stmt);
        rooms
            .into_iter()
            .map(|(id, name)| {
                Ok(Room {
                    id,
                    name,
                    members: members(&conn, id)?,
                })
            })
            .collect()
    }

    pub fn is_member(&self, room: u64, user: u64) -> Result<bool, ApiError> {
        let conn = self.conn()?;
        Ok(conn
            .query_row(
                "SELECT 1 FROM room_members WHERE room_id = ?1 AND user_id = ?2",
                params![sql(room), sql(user)],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Adds `user` to `room` (or removes them) and stores the notice, atomically; `None`
    /// if that changes nothing (already a member, or not one).
    pub fn change_membership(
        &self,
        room: u64,
        user: u64,
        change: Membership,
        notice: NewMessage,
    ) -> Result<Option<MessageRow>, ApiError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let changed = match change {
            Membership::Join => tx.execute(
                "INSERT OR IGNORE INTO room_members (room_id, user_id, unread, joined_at) VALUES (?1, ?2, 0, ?3)",
                params![sql(room), sql(user), sql(notice.now)],
            )?,
            Membership::Leave => tx.execute(
                "DELETE FROM room_members WHERE room_id = ?1 AND user_id = ?2",
                params![sql(room), sql(user)],
            )?,
        };
        if changed == 0 {
            return Ok(None);
        }
        let row = self.insert_in(&tx, notice)?;
        tx.commit()?;
        Ok(Some(row))
    }

    /// Stores a new message and counts it unread for its receiver(s).
    pub fn insert_message(&self, new: NewMessage) -> Result<MessageRow, ApiError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let row = self.insert_in(&tx, new)?;
        tx.commit()?;
        Ok(row)
    }

    fn insert_in(
        &self,
        tx: &rusqlite::Transaction<'_>,
        new: NewMessage,
    ) -> Result<MessageRow, ApiError> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        if id > MAX_SAFE_INTEGER {
            return Err(ApiError::Internal("message ids exhausted".into()));
        }
        tx.execute(
            "INSERT INTO messages (id, conversation_id, sender_id, receiver_id, msg_type, msg_content, weight, create_time, is_read, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9)",
            params![
                sql(id),
                new.conversation_id,
                sql(new.sender_id),
                sql(new.receiver_id),
                new.msg_type,
                new.msg_content,
                sql(new.weight),
                sql(new.now),
                STATUS_SENT
            ],
        )?;
        match new.unread {
            Unread::Direct {
                low,
                high,
                receiver,
            } => {
                let (u1, u2) = if receiver == low { (1, 0) } else { (0, 1) };
                tx.execute(
                    "INSERT INTO conversations (conversation_id, user_id_1, user_id_2, user_id_1_unread, user_id_2_unread)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(conversation_id) DO UPDATE SET
                       user_id_1_unread = user_id_1_unread + excluded.user_id_1_unread,
                       user_id_2_unread = user_id_2_unread + excluded.user_id_2_unread",
                    params![new.conversation_id, sql(low), sql(high), u1, u2],
                )?;
            }
            Unread::Room(room) => {
                tx.execute(
                    "UPDATE room_members SET unread = unread + 1 WHERE room_id = ?1 AND user_id != ?2",
                    params![sql(room), sql(new.sender_id)],
                )?;
            }
            Unread::None => {}
        }
        Ok(MessageRow {
            id,
            conversation_id: new.conversation_id,
            sender_id: new.sender_id,
            receiver_id: new.receiver_id,
            msg_type: new.msg_type,
            msg_content: new.msg_content,
            weight: new.weight,
            create_time: new.now,
            is_read: false,
            status: STATUS_SENT,
        })
    }

    pub fn message(&self, id: u64) -> Result<Option<MessageRow>, ApiError> {
        let conn = self.conn()?;
        Ok(conn
            .query_row(
                &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"),
                [sql(id)],
                message_row,
            )
            .optional()?)
    }

    pub fn set_status(&self, id: u64, status: i64) -> Result<(), ApiError> {
        self.conn()?.execute(
            "UPDATE messages SET status = ?2 WHERE id = ?1",
            params![sql(id), status],
        )?;
        Ok(())
    }

    /// A resend: new weight, status sent.
    pub fn reweigh(&self, id: u64, weight: u64) -> Result<(), ApiError> {
        self.conn()?.execute(
            "UPDATE messages SET weight = ?2, status = ?3 WHERE id = ?1",
            params![sql(id), sql(weight), STATUS_SENT],
        )?;
        Ok(())
    }

    /// `reader` read the 1:1 conversation: their unread is 0 and every message `peer` sent
    /// in it is read. Returns whether the conversation exists.
    pub fn mark_read(
        &self,
        conversation_id: &str,
        reader: u64,
        peer: u64,
    ) -> Result<bool, ApiError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let touched = tx.execute(
            "UPDATE conversations SET
               user_id_1_unread = CASE WHEN user_id_1 = ?2 THEN 0 ELSE user_id_1_unread END,
               user_id_2_unread = CASE WHEN user_id_2 = ?2 THEN 0 ELSE user_id_2_unread END
             WHERE conversation_id = ?1",
            params![conversation_id, sql(reader)],
        )?;
        tx.execute(
            "UPDATE messages SET is_read = 1 WHERE conversation_id = ?1 AND sender_id = ?2 AND is_read = 0",
            params![conversation_id, sql(peer)],
        )?;
        tx.commit()?;
        Ok(touched > 0)
    }

    /// The largest weight of a message in `conversation_id`, if it has one.
    pub fn newest_weight(&self, conversation_id: &str) -> Result<Option<u64>, ApiError> {
        let max: Option<i64> = self.conn()?.query_row(
            "SELECT MAX(weight) FROM messages WHERE conversation_id = ?1",
            [conversation_id],
            |r| r.get(0),
        )?;
        Ok(max.map(unsigned))
    }

    pub fn zero_room_unread(&self, room: u64, user: u64) -> Result<(), ApiError> {
        self.conn()?.execute(
            "UPDATE room_members SET unread = 0 WHERE room_id = ?1 AND user_id = ?2",
            params![sql(room), sql(user)],
        )?;
        Ok(())
    }

    /// A page of a conversation, newest first: weights below `before_weight`.
    pub fn history(
        &self,
        conversation_id: &str,
        before_weight: Option<u64>,
        limit: u32,
    ) -> Result<Vec<MessageRow>, ApiError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE conversation_id = ?1 AND weight < ?2
             ORDER BY weight DESC, id DESC LIMIT ?3"
        ))?;
        let before = before_weight.map_or(i64::MAX, sql);
        let rows = stmt.query_map(params![conversation_id, before, limit], message_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The caller's 1:1 conversations and joined rooms, most recent first.
    pub fn conversations(&self, user: u64) -> Result<Vec<ConversationRow>, ApiError> {
        let conn = self.conn()?;
        let mut out = Vec::new();
        {
            let mut stmt = conn.prepare(
                "SELECT conversation_id, user_id_1, user_id_2, user_id_1_unread, user_id_2_unread
                 FROM conversations WHERE user_id_1 = ?1 OR user_id_2 = ?1",
            )?;
            let rows = stmt.query_map([sql(user)], |r| {
                Ok(ConversationRow {
                    conversation_id: r.get(0)?,
                    user_id_1: unsigned(r.get(1)?),
                    user_id_2: unsigned(r.get(2)?),
                    user_id_1_unread: unsigned(r.get(3)?),
                    user_id_2_unread: unsigned(r.get(4)?),
                    room: None,
                    last: None,
                    since: 0,
                })
            })?;
            for row in rows {
                out.push(row?);
            }
        }
        {
            let mut stmt = conn.prepare(
                "SELECT r.id, r.name, m.unread, m.joined_at FROM room_members m
                 JOIN rooms r ON r.id = m.room_id WHERE m.user_id = ?1",
            )?;
            let rows = stmt.query_map([sql(user)], |r| {
                let room = unsigned(r.get(0)?);
                Ok(ConversationRow {
                    conversation_id: format!("room_{room}"),
                    user_id_1: user,
                    user_id_2: 0,
                    user_id_1_unread: unsigned(r.get(2)?),
                    user_id_2_unread: 0,
                    room: Some((room, r.get(1)?)),
                    last: None,
                    since: unsigned(r.get(3)?),
                })
            })?;
            for row in rows {
                out.push(row?);
            }
        }
        let mut last = conn.prepare(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1
             ORDER BY weight DESC, id DESC LIMIT 1"
        ))?;
        for row in &mut out {
            row.last = last
                .query_row([&row.conversation_id], message_row)
                .optional()?;
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.last.as_ref().map_or(r.since, |m| m.weight)));
        Ok(out)
    }

    /// Test hook: forgets every message, conversation and membership.
    pub fn reset(&self) -> Result<(), ApiError> {
        self.conn()?.execute_batch(
            "DELETE FROM messages; DELETE FROM conversations; DELETE FROM room_members;",
        )?;
        Ok(())
    }
}

fn rooms_of(conn: &Connection, user: u64) -> Result<Vec<u64>, ApiError> {
    let mut stmt =
        conn.prepare("SELECT room_id FROM room_members WHERE user_id = ?1 ORDER BY room_id")?;
    let rows = stmt.query_map([sql(user)], |r| Ok(unsigned(r.get(0)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn members(conn: &Connection, room: u64) -> Result<Vec<u64>, ApiError> {
    let mut stmt =
        conn.prepare("SELECT user_id FROM room_members WHERE room_id = ?1 ORDER BY user_id")?;
    let rows = stmt.query_map([sql(room)], |r| Ok(unsigned(r.get(0)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

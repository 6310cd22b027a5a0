//! `messages()`: a page of history from memory, then local storage, then the backend,
//! until `limit` messages are there or every source ran out.

use super::*;
use crate::chat::api::{self, ApiError};
use crate::chat::store::MessageKey;
use crate::chat::WireMessage;
use crate::storage::Page;

/// One page request on its way through the sources.
#[derive(Debug)]
pub(super) struct PageJob {
    command: CommandId,
    conversation: ConversationId,
    /// The page ends before this message (`None`: the newest page).
    before: Option<MessageKey>,
    limit: usize,
}

impl PageJob {
    /// The call waiting for the page.
    pub(super) fn command(&self) -> CommandId {
        self.command
    }
}

impl ChatEngine {
    /// One page of a conversation, ascending: the newest, or the one before the message
    /// with key `before`; `command` settles with it.
    pub fn messages(
        &mut self,
        now: Now,
        command: CommandId,
        conversation: ConversationId,
        before: Option<&str>,
        limit: Option<usize>,
    ) {
        let before = match before {
            Some(key) => match self.resolve(key) {
                Ok(r) => self.store.message(&r).map(|m| m.key.clone()),
                Err(e) => return self.done(command, Err(e)),
            },
            None => None,
        };
        let job = PageJob {
            command,
            conversation,
            before,
            limit: limit.unwrap_or(self.page_size).clamp(1, MAX_PAGE_SIZE),
        };
        if self.held(&job) < job.limit && self.store.may_have_older(conversation) {
            return self.read_older(job);
        }
        self.page_backend(now, job);
    }

    /// Reads the next older page of `job`'s conversation from storage.
    fn read_older(&mut self, job: PageJob) {
        let conversation = job.conversation;
        let limit = job.limit;
        self.read_storage(
            StorageOp::Messages {
                conversation,
                page: self.older_page(conversation),
                limit,
            },
            StoragePending::Page(job),
        );
    }

    /// Where the next older page of a conversation starts in storage: before the pages
    /// read back in order, or the newest when none was.
    pub(super) fn older_page(&self, conversation: ConversationId) -> Page {
        self.store
            .paged_from(conversation)
            .map_or(Page::Newest, Page::Before)
    }

    /// Messages held in memory for `job`.
    fn held(&self, job: &PageJob) -> usize {
        self.store
            .messages(job.conversation, job.before.as_ref(), job.limit)
            .len()
    }

    /// Puts a page read back from storage into the store (a failed read is reported) and
    /// flushes; whether it came full (`limit` messages: storage may hold more).
    pub(super) fn take_page(
        &mut self,
        answer: Result<Vec<StoredMessage>, StorageError>,
        limit: usize,
    ) -> bool {
        let full = match answer {
            Ok(page) => {
                let full = page.len() >= limit;
                self.store.insert_page(page);
                full
            }
            Err(e) => {
                self.error(ChatError::from(&e));
                false
            }
        };
        self.flush_store();
        full
    }

    /// Local storage answered.
    pub(super) fn page_from_storage(
        &mut self,
        now: Now,
        job: PageJob,
        answer: Result<Vec<StoredMessage>, StorageError>,
    ) {
        let full = self.take_page(answer, job.limit);
        // A full page that still leaves `job` short (it ends before a message loaded out of
        // order, say): storage may hold more. The backend only once storage ran out, or a
        // message storage holds would come back as new (and be counted unread again).
        if full && self.held(&job) < job.limit && self.store.may_have_older(job.conversation) {
            return self.read_older(job);
        }
        self.page_backend(now, job);
    }

    /// The backend, when what is held locally falls short.
    fn page_backend(&mut self, _now: Now, job: PageJob) {
        let have = self.held(&job);
        if have >= job.limit || !self.is_backend() {
            return self.page_done(job);
        }
        let oldest = self.store.oldest_key(job.conversation).map(|k| k.weight);
        let request = api::history(job.conversation, oldest, job.limit - have);
        self.http(request, HttpPending::History(job));
    }

    /// The backend answered.
    pub(super) fn page_from_backend(
        &mut self,
        _now: Now,
        job: PageJob,
        answer: Result<Vec<WireMessage>, ApiError>,
    ) {
        match answer {
            Ok(page) => {
                self.store.apply_history(page);
                self.flush_store();
            }
            // Offline: what is held locally is the answer.
            Err(e) => self.log(LogLevel::Warn, format!("history: {e}")),
        }
        self.page_done(job);
    }

    fn page_done(&mut self, job: PageJob) {
        let page = self
            .store
            .messages(job.conversation, job.before.as_ref(), job.limit);
        self.done(job.command, Ok(Reply::Messages(page)));
    }

    /// The answer to storage request `id`.
    pub fn handle_storage(
        &mut self,
        now: Now,
        id: StorageId,
        answer: Result<StorageAnswer, StorageError>,
    ) {
        let Some(pending) = self.storage.remove(&id) else {
            return;
        };
        if self.closed && !matches!(pending, StoragePending::Wipe(_)) {
            return;
        }
        match pending {
            StoragePending::Page(job) => {
                self.page_from_storage(now, job, answer.map(StorageAnswer::into_messages))
            }
            StoragePending::Older(conversation) => {
                self.older_read(now, conversation, answer.map(StorageAnswer::into_messages))
            }
            StoragePending::Refill => {
                self.take_page(answer.map(StorageAnswer::into_messages), 1);
            }
            StoragePending::Lookup(slot) => {
                let stored = match answer {
                    Ok(StorageAnswer::Message(m)) => m,
                    _ => None,
                };
                self.looked_up(now, slot, stored);
            }
            StoragePending::Wipe(command) => self.wiped(command, answer.map(|_| ())),
        }
    }

    /// A write failed: the chat goes on in memory, and the page hears why.
    pub fn handle_storage_failed(&mut self, _now: Now, error: &StorageError) {
        self.error(ChatError::from(error));
    }
}

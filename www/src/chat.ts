// The two-pane chat: conversation list on the left, the open conversation on the right.
// The DOM follows the ChatClient's events: `message` / `messageUpdated` / `messageRemoved`
// carry the index in the loaded part of the conversation, so `rows` mirrors
// `client.loadedMessages(openId)` one to one.
import {
  ChatClient,
  type ChatConversation,
  type ChatMessage,
  type ChatStatus,
  type StatusEvent,
} from 'imcore';
import { rooms as fetchRooms, type Room, type Session, type User } from './api';
import { describe, formatTime, h, replaceChildren, toast } from './dom';

/** The client's page size (ChatClientOptions.pageSize, main.ts): a shorter page is the last. */
export const PAGE_SIZE = 30;
/** A time line between messages further apart than this. */
const TIME_GAP_MS = 5 * 60_000;

const STATUS_CODES: Record<ChatStatus, number> = {
  idle: 0,
  'fetching-config': 0,
  connecting: 1,
  connected: 10,
  reconnecting: 20,
  offline: 20,
  closed: 0,
};

interface Row {
  message: ChatMessage;
  el: HTMLElement;
  /** Whether the element was built with a Revoke button. */
  revocable: boolean;
}

export class ChatView {
  private readonly me: string;
  private readonly users = new Map<string, User>();
  private rooms: Room[];
  private conversations: ChatConversation[] = [];
  private readonly presence = new Map<string, boolean>();
  private openId: string | null = null;
  private rows: Row[] = [];
  private loadingOlder = false;
  private exhausted = false;
  private stickToBottom = true;

  // Elements of the layout.
  private readonly shell = h('div', { class: 'shell' });
  private readonly statusEl = h('span', { class: 'status', 'data-testid': 'status', 'data-status': 'idle' });
  private readonly offsetEl = h('span', { class: 'clock-offset', 'data-testid': 'clock-offset' });
  private readonly totalEl = h('span', { class: 'total-unread', hidden: true });
  private readonly picker = h('div', { class: 'picker', hidden: true });
  private readonly list = h('ul', { class: 'conv-list' });
  private readonly roomList = h('ul', { class: 'room-list' });
  private readonly pane = h('main', { class: 'pane' });
  private readonly paneTitle = h('div', { class: 'pane-title' });
  private readonly paneSub = h('div', { class: 'pane-sub' });
  private readonly paneActions = h('div', { class: 'pane-actions' });
  private readonly scroller = h('div', { class: 'messages' });
  private readonly earlier = h(
    'button',
    { type: 'button', class: 'load-earlier', 'data-testid': 'load-earlier' },
    'Load earlier messages',
  );
  private readonly msgList = h('div', { class: 'msg-list' });
  private readonly input = h('textarea', {
    class: 'composer-input',
    'data-testid': 'composer-input',
    rows: 1,
    placeholder: 'Type a message',
    title: 'Enter to send, Shift+Enter for a new line',
  });
  private readonly sendBtn = h('button', { type: 'submit', class: 'send', 'data-testid': 'send' }, 'Send');
  private readonly mediaUrl = h('input', {
    type: 'url',
    'data-testid': 'media-url',
    placeholder: 'Image / video URL',
  });
  private readonly mediaCover = h('input', {
    type: 'url',
    'data-testid': 'media-cover',
    placeholder: 'Cover URL (optional)',
  });

  constructor(
    private readonly root: HTMLElement,
    private readonly client: ChatClient,
    private readonly session: Session,
    users: User[],
    rooms: Room[],
    private readonly onLogout: () => void,
  ) {
    this.me = session.user_id;
    for (const u of users) this.users.set(u.user_id, u);
    this.rooms = rooms;
  }

  mount(): void {
    this.buildLayout();
    const c = this.client;
    c.on('status', (e) => this.showStatus(e));
    c.on('conversations', (list) => {
      this.conversations = list;
      this.renderList();
      this.renderHeader();
    });
    c.on('unreadTotal', (n) => this.showUnreadTotal(n));
    c.on('presence', (e) => {
      this.presence.set(e.userId, e.online);
      this.renderList();
      this.renderHeader();
      this.renderPicker();
    });
    c.on('error', (e) => toast(describe(e)));
    c.on('message', (e) => {
      if (e.conversationId === this.openId) this.insertRow(e.index, e.message);
    });
    c.on('messageUpdated', (e) => {
      if (e.conversationId === this.openId) this.updateRow(e.index, e.message);
    });
    c.on('messageRemoved', (e) => {
      if (e.conversationId === this.openId) this.removeRow(e.index, e.key);
    });
    this.conversations = c.conversations();
    this.showStatus({ status: c.status(), code: STATUS_CODES[c.status()] as StatusEvent['code'], role: c.role() });
    this.showUnreadTotal(c.unreadTotal());
    this.renderList();
    this.renderPane();
    setInterval(() => this.tick(), 1000);
    this.tick();
  }

  // ---- layout -----------------------------------------------------------------------------

  private buildLayout(): void {
    const meUser = this.session;
    const newChat = h('button', { type: 'button', class: 'icon-btn', 'data-testid': 'new-chat', title: 'New chat' }, '+');
    newChat.addEventListener('click', () => {
      this.picker.hidden = !this.picker.hidden;
      if (!this.picker.hidden) this.renderPicker();
    });
    const logout = h('button', { type: 'button', class: 'icon-btn', title: 'Switch user', 'data-testid': 'logout' }, '⎋');
    logout.addEventListener('click', () => this.onLogout());

    const sidebar = h(
      'aside',
      { class: 'sidebar' },
      h(
        'header',
        { class: 'me' },
        h('img', { class: 'avatar', src: meUser.avatar, alt: '' }),
        h(
          'div',
          { class: 'me-text' },
          h('div', { class: 'me-name' }, meUser.nick_name, this.totalEl),
          h('div', { class: 'me-sub' }, this.statusEl),
          h('div', { class: 'me-sub' }, this.offsetEl),
        ),
        newChat,
        logout,
      ),
      this.picker,
      h('div', { class: 'lists' }, this.list, h('div', { class: 'section-title' }, 'Rooms'), this.roomList),
    );

    // Conversation pane.
    const back = h('button', { type: 'button', class: 'icon-btn back', title: 'Back' }, '‹');
    back.addEventListener('click', () => this.close());
    this.earlier.addEventListener('click', () => void this.loadEarlier(true));
    this.scroller.append(this.earlier, this.msgList);
    this.scroller.addEventListener('scroll', () => {
      const s = this.scroller;
      this.stickToBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 60;
      if (s.scrollTop < 40 && this.rows.length > 0 && !this.exhausted) void this.loadEarlier(false);
    });

    const form = h('form', { class: 'composer' });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.sendText();
    });
    form.append(this.input, this.sendBtn);

    const sendImage = h('button', { type: 'button', 'data-testid': 'send-image' }, 'Send image');
    const sendVideo = h('button', { type: 'button', 'data-testid': 'send-video' }, 'Send video');
    sendImage.addEventListener('click', () => this.sendMedia('image'));
    sendVideo.addEventListener('click', () => this.sendMedia('video'));
    const samples = h('span', { class: 'samples' }, 'Samples: ');
    for (const n of [1, 2]) {
      const b = h('button', { type: 'button', class: 'link' }, `#${n}`);
      b.addEventListener('click', () => {
        this.mediaUrl.value = new URL(`sample-${n}.png`, location.href).href;
        this.mediaCover.value = new URL(`sample-${3 - n}.png`, location.href).href;
      });
      samples.append(b, ' ');
    }
    const media = h('div', { class: 'media-form' }, this.mediaUrl, this.mediaCover, sendImage, sendVideo, samples);

    this.pane.append(
      h('header', { class: 'pane-head' }, back, h('div', { class: 'pane-text' }, this.paneTitle, this.paneSub), this.paneActions),
      this.scroller,
      h('div', { class: 'compose-area' }, media, form),
    );
    this.shell.append(sidebar, this.pane);
    replaceChildren(this.root, this.shell);
  }

  // ---- header -----------------------------------------------------------------------------

  private showStatus(e: StatusEvent): void {
    this.statusEl.dataset.status = e.status;
    this.statusEl.dataset.code = String(e.code);
    this.statusEl.dataset.role = e.role;
    // Several tabs of one user share one connection: say which one holds it.
    this.statusEl.textContent = `${e.status} (${e.code})${e.role === 'follower' ? ' · shared' : ''}`;
    this.statusEl.title = e.role === 'follower' ? 'another tab of yours holds the connection' : '';
    this.tick();
  }

  private showUnreadTotal(n: number): void {
    this.totalEl.hidden = n === 0;
    this.totalEl.textContent = String(n);
    document.title = n > 0 ? `(${n}) imcore chat` : 'imcore chat';
  }

  /** Every second: the clock offset, and which Revoke buttons are still due. */
  private tick(): void {
    const offset = this.client.clockOffset();
    const text = offset === undefined ? 'clock: calibrating' : `clock offset ${Math.round(offset)} ms`;
    if (this.offsetEl.textContent !== text) this.offsetEl.textContent = text;
    this.offsetEl.dataset.offset = offset === undefined ? '' : String(offset);
    const now = this.serverNow();
    this.rows.forEach((row, i) => {
      if (row.revocable !== this.revocable(row.message, now)) this.replaceRowEl(i, row.message);
    });
  }

  /** Now on the server's clock (weights are server time). */
  private serverNow(): number {
    return Date.now() - (this.client.clockOffset() ?? 0);
  }

  // ---- names ------------------------------------------------------------------------------

  private userName(id: string): string {
    return this.users.get(id)?.nick_name ?? `user ${id}`;
  }

  private avatarOf(id: string, fallback?: string | null): string {
    return fallback || this.users.get(id)?.avatar || `/avatars/${id}.svg`;
  }

  private roomOf(id: string): Room | undefined {
    return this.rooms.find((r) => r.room_id === id);
  }

  private titleOf(conversationId: string): string {
    const room = /^room_(\d+)$/.exec(conversationId);
    if (room) return this.roomOf(room[1])?.name ?? `room ${room[1]}`;
    return this.userName(this.peerOf(conversationId));
  }

  private peerOf(conversationId: string): string {
    const [a, b] = conversationId.split('_');
    return a === this.me ? b : a;
  }

  // ---- conversation list -----------------------------------------------------------------

  private renderList(): void {
    const items: ChatConversation[] = [...this.conversations];
    const listed = new Set(items.map((c) => c.id));
    // Joined rooms and the open chat show even before they have a message here.
    const extra = (id: string, kind: 'direct' | 'room', peerId: string) => {
      if (listed.has(id)) return;
      listed.add(id);
      items.push({ id, kind, peerId, lastMessage: null, lastActivity: 0, unread: 0, members: [] });
    };
    if (this.openId) {
      const room = /^room_(\d+)$/.exec(this.openId);
      extra(this.openId, room ? 'room' : 'direct', room ? room[1] : this.peerOf(this.openId));
    }
    for (const r of this.rooms) if (r.joined) extra(r.conversation_id, 'room', r.room_id);

    replaceChildren(this.list, ...items.map((c) => this.conversationItem(c)));
    if (items.length === 0) {
      this.list.append(h('li', { class: 'empty' }, 'No chats yet. Start one with + or join a room.'));
    }

    const joinable = this.rooms.filter((r) => !r.joined && !listed.has(r.conversation_id));
    replaceChildren(
      this.roomList,
      ...joinable.map((r) => {
        const join = h(
          'button',
          { type: 'button', class: 'join', 'data-testid': 'join-room', 'data-room-id': r.room_id },
          'Join',
        );
        join.addEventListener('click', () => void this.joinRoom(r.room_id));
        return h(
          'li',
          { class: 'room-item' },
          h('div', { class: 'avatar room-avatar' }, '#'),
          h('div', { class: 'conv-text' }, h('div', { class: 'conv-name' }, r.name), h('div', { class: 'conv-preview' }, plural(r.members.length, 'member'))),
          join,
        );
      }),
    );
    if (joinable.length === 0) this.roomList.append(h('li', { class: 'empty' }, 'You are in every room.'));
  }

  private conversationItem(c: ChatConversation): HTMLElement {
    const direct = c.kind === 'direct';
    const avatar = direct
      ? h('div', { class: 'avatar-wrap' }, h('img', { class: 'avatar', src: this.avatarOf(c.peerId), alt: '' }), this.presenceDot(c.peerId, 'presence'))
      : h('div', { class: 'avatar-wrap' }, h('div', { class: 'avatar room-avatar' }, '#'));
    const unread = c.unread > 0 ? h('span', { class: 'badge', 'data-testid': 'unread' }, c.unread > 99 ? '99+' : String(c.unread)) : null;
    if (unread) unread.dataset.count = String(c.unread);
    const time = c.lastMessage ? formatTime(c.lastMessage.weight, true) : '';
    const li = h(
      'li',
      {
        class: `conv${c.id === this.openId ? ' active' : ''}`,
        'data-testid': 'conversation',
        'data-id': c.id,
        'data-kind': c.kind,
        tabindex: 0,
      },
      avatar,
      h(
        'div',
        { class: 'conv-text' },
        h('div', { class: 'conv-top' }, h('span', { class: 'conv-name' }, this.titleOf(c.id)), h('span', { class: 'conv-time' }, time)),
        h('div', { class: 'conv-bottom' }, h('span', { class: 'conv-preview', 'data-testid': 'last-message' }, this.preview(c)), unread),
      ),
    );
    li.addEventListener('click', () => void this.open(c.id));
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') void this.open(c.id);
    });
    return li;
  }

  private presenceDot(userId: string, testId: string): HTMLElement {
    const online = this.presence.get(userId) === true;
    return h('span', {
      class: `dot${online ? ' online' : ''}`,
      'data-testid': testId,
      'data-online': String(online),
      title: online ? 'online' : 'offline',
    });
  }

  private preview(c: ChatConversation): string {
    const m = c.lastMessage;
    if (!m) return c.kind === 'room' ? 'No messages yet' : '';
    const body = this.summary(m);
    if (m.revoked || m.kind === 'system') return body;
    const who = m.mine ? (c.kind === 'room' ? 'You: ' : '') : c.kind === 'room' ? `${m.senderName || this.userName(m.senderId)}: ` : '';
    const mark = m.mine && m.status === 'failed' ? 'Not sent: ' : '';
    return `${mark}${who}${body}`;
  }

  private summary(m: ChatMessage): string {
    if (m.revoked || m.status === 'revoked') return m.mine ? 'You: message revoked' : `${m.senderName || this.userName(m.senderId)}: message revoked`;
    switch (m.kind) {
      case 'text':
      case 'system':
        return m.text ?? '';
      case 'image':
        return '[Image]';
      case 'video':
        return '[Video]';
      default:
        return '[Message]';
    }
  }

  private renderPicker(): void {
    if (this.picker.hidden) return;
    const options = [...this.users.values()]
      .filter((u) => u.user_id !== this.me)
      .map((u) => {
        const li = h(
          'li',
          { class: 'user-option', 'data-testid': 'user-option', 'data-user-id': u.user_id, tabindex: 0 },
          h('div', { class: 'avatar-wrap' }, h('img', { class: 'avatar', src: u.avatar, alt: '' }), this.presenceDot(u.user_id, 'user-presence')),
          h('span', {}, u.nick_name),
        );
        const go = () => {
          this.picker.hidden = true;
          void this.open(ChatClient.conversationIdOf(this.me, u.user_id));
        };
        li.addEventListener('click', go);
        li.addEventListener('keydown', (e) => e.key === 'Enter' && go());
        return li;
      });
    replaceChildren(this.picker, h('div', { class: 'section-title' }, 'Start a chat with'), h('ul', {}, ...options));
  }

  private async joinRoom(roomId: string): Promise<void> {
    try {
      await this.client.joinRoom(roomId);
      await this.refreshRooms();
      await this.open(`room_${roomId}`);
    } catch (e) {
      toast(`Join failed: ${describe(e)}`);
    }
  }

  private async leaveRoom(roomId: string): Promise<void> {
    try {
      await this.client.leaveRoom(roomId);
      await this.refreshRooms();
    } catch (e) {
      toast(`Leave failed: ${describe(e)}`);
    }
  }

  private async refreshRooms(): Promise<void> {
    try {
      this.rooms = await fetchRooms(this.session.token);
    } catch (e) {
      toast(describe(e));
    }
    this.renderList();
    this.renderHeader();
  }

  // ---- the open conversation -------------------------------------------------------------

  private async open(id: string): Promise<void> {
    if (id === this.openId) return;
    if (this.openId) this.client.closeConversation();
    try {
      this.client.openConversation(id);
    } catch (e) {
      toast(describe(e));
      this.openId = null;
      this.renderPane();
      return;
    }
    this.openId = id;
    this.exhausted = false;
    this.loadingOlder = false;
    this.stickToBottom = true;
    this.renderPane();
    this.renderList();
    this.resync();
    try {
      const page = await this.client.messages(id);
      if (this.openId !== id) return;
      this.checkInSync('messages(id)', page);
      this.exhausted = page.length < PAGE_SIZE;
      this.updateEarlier();
      this.scrollToBottom();
    } catch (e) {
      toast(`Loading messages failed: ${describe(e)}`);
    }
    this.input.focus();
  }

  private close(): void {
    if (!this.openId) return;
    this.client.closeConversation();
    this.openId = null;
    this.rows = [];
    this.renderPane();
    this.renderList();
  }

  private renderPane(): void {
    this.shell.classList.toggle('has-open', this.openId !== null);
    this.pane.classList.toggle('empty', this.openId === null);
    this.renderHeader();
    if (!this.openId) {
      this.rows = [];
      replaceChildren(this.msgList, h('div', { class: 'placeholder' }, 'Select a chat to start messaging'));
    }
    this.updateEarlier();
    this.input.disabled = this.sendBtn.disabled = this.openId === null;
  }

  private renderHeader(): void {
    const id = this.openId;
    if (!id) {
      this.paneTitle.textContent = 'imcore chat';
      replaceChildren(this.paneSub);
      replaceChildren(this.paneActions);
      return;
    }
    this.paneTitle.textContent = this.titleOf(id);
    const room = /^room_(\d+)$/.exec(id);
    if (room) {
      const info = this.roomOf(room[1]);
      const conv = this.conversations.find((c) => c.id === id);
      // The client keeps members current (membership notices); /rooms is the fallback.
      const members = conv?.members.length ? conv.members : info?.members ?? [];
      const names = members.map((m) => this.userName(m)).join(', ');
      replaceChildren(this.paneSub, members.length ? `${plural(members.length, 'member')}: ${names}` : 'no members yet');
      if (info?.joined) {
        const leave = h('button', { type: 'button', class: 'ghost', 'data-testid': 'leave-room', 'data-room-id': room[1] }, 'Leave');
        leave.addEventListener('click', () => void this.leaveRoom(room[1]));
        replaceChildren(this.paneActions, leave);
      } else {
        const join = h('button', { type: 'button', class: 'ghost', 'data-room-id': room[1] }, 'Join');
        join.addEventListener('click', () => void this.joinRoom(room[1]));
        replaceChildren(this.paneActions, join);
      }
    } else {
      const peer = this.peerOf(id);
      const online = this.presence.get(peer) === true;
      replaceChildren(this.paneSub, this.presenceDot(peer, 'peer-presence'), online ? ' online' : ' offline');
      replaceChildren(this.paneActions);
    }
  }

  private updateEarlier(): void {
    this.earlier.hidden = this.openId === null;
    this.earlier.textContent = this.loadingOlder ? 'Loading…' : this.exhausted ? 'No earlier messages' : 'Load earlier messages';
    this.earlier.classList.toggle('done', this.exhausted);
  }

  /** The page before the oldest loaded message (scrolling to the top, or the button, which always asks). */
  private async loadEarlier(clicked: boolean): Promise<void> {
    const id = this.openId;
    if (!id || this.loadingOlder || (this.exhausted && !clicked)) return;
    const oldest = this.rows[0]?.message.key;
    this.loadingOlder = true;
    this.updateEarlier();
    try {
      const page = await this.client.messages(id, oldest ? { before: oldest } : undefined);
      if (this.openId !== id) return;
      this.checkInSync('messages(id, {before})', page);
      this.exhausted = page.length < PAGE_SIZE;
    } catch (e) {
      toast(`Loading earlier messages failed: ${describe(e)}`);
    } finally {
      this.loadingOlder = false;
      this.updateEarlier();
    }
  }

  /** Rebuilds the message list from `client.loadedMessages`. */
  private resync(): void {
    if (!this.openId) return;
    const messages = this.client.loadedMessages(this.openId);
    const now = this.serverNow();
    this.rows = messages.map((m) => ({ message: m, el: this.messageEl(m, now), revocable: this.revocable(m, now) }));
    replaceChildren(this.msgList, ...this.rows.map((r) => r.el));
    this.refreshTimeLines();
  }

  /**
   * After a page load: every message the client returned must be in the DOM by now (the
   * events came first), in the same order as `loadedMessages`. A mismatch is a ChatClient
   * event bug: reported on the console, then repaired from `loadedMessages`.
   */
  private checkInSync(what: string, page: ChatMessage[]): void {
    if (!this.openId) return;
    const loaded = this.client.loadedMessages(this.openId).map((m) => m.key);
    const shown = this.rows.map((r) => r.message.key);
    const missing = page.filter((m) => !shown.includes(m.key)).map((m) => m.key);
    if (missing.length > 0 || loaded.join() !== shown.join()) {
      console.error(`[www] DOM out of sync with ChatClient events after ${what}`, { loaded, shown, missing });
      this.resync();
    }
  }

  /** Runs `change`, keeping the view at the bottom (if it was) or where it was. */
  private keepScroll(change: () => void, forceBottom = false): void {
    const s = this.scroller;
    const fromBottom = s.scrollHeight - s.scrollTop;
    const atBottom = this.stickToBottom || fromBottom - s.clientHeight < 60;
    change();
    if (atBottom || forceBottom) this.scrollToBottom();
    else s.scrollTop = s.scrollHeight - fromBottom;
  }

  private scrollToBottom(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.stickToBottom = true;
  }

  private insertRow(index: number, m: ChatMessage): void {
    if (!Number.isInteger(index) || index < 0 || index > this.rows.length) {
      console.error(`[www] 'message' event index ${index} outside 0..${this.rows.length}`, m);
      this.resync();
      return;
    }
    const now = this.serverNow();
    const row: Row = { message: m, el: this.messageEl(m, now), revocable: this.revocable(m, now) };
    const atEnd = index === this.rows.length;
    this.keepScroll(() => {
      this.msgList.insertBefore(row.el, this.rows[index]?.el ?? null);
      this.rows.splice(index, 0, row);
      this.refreshTimeLines();
    }, atEnd && m.mine);
  }

  private updateRow(index: number, m: ChatMessage): void {
    if (this.rows[index]?.message.key !== m.key) {
      console.error(`[www] 'messageUpdated' index ${index} holds key ${this.rows[index]?.message.key}, event has ${m.key}`, m);
      this.resync();
      return;
    }
    this.keepScroll(() => this.replaceRowEl(index, m));
  }

  private removeRow(index: number, key: string): void {
    const row = this.rows[index];
    if (row?.message.key !== key) {
      console.error(`[www] 'messageRemoved' index ${index} holds key ${row?.message.key}, event has ${key}`);
      this.resync();
      return;
    }
    this.keepScroll(() => {
      row.el.remove();
      this.rows.splice(index, 1);
      this.refreshTimeLines();
    });
  }

  private replaceRowEl(index: number, m: ChatMessage): void {
    const now = this.serverNow();
    const old = this.rows[index];
    const row: Row = { message: m, el: this.messageEl(m, now), revocable: this.revocable(m, now) };
    // Same picture or video: keep its element, so a status change does not reload or stop it.
    const prev = old.message;
    if ((m.kind === 'image' || m.kind === 'video') && !m.revoked && !prev.revoked && prev.kind === m.kind && prev.url === m.url && prev.cover === m.cover) {
      const keep = old.el.querySelector('.bubble');
      const fresh = row.el.querySelector('.bubble');
      if (keep && fresh) fresh.replaceWith(keep);
    }
    old.el.replaceWith(row.el);
    this.rows[index] = row;
    this.refreshTimeLines();
  }

  /** A centred time line above a message further than TIME_GAP_MS from the one before. */
  private refreshTimeLines(): void {
    let prev = -Infinity;
    for (const row of this.rows) {
      const line = row.el.querySelector<HTMLElement>('.time-line');
      if (line) line.hidden = row.message.weight - prev < TIME_GAP_MS;
      prev = row.message.weight;
    }
  }

  private revocable(m: ChatMessage, now: number): boolean {
    return m.mine && m.status === 'sent' && !m.revoked && m.id !== null && now - m.weight < ChatClient.revokeWindowMs();
  }

  private messageEl(m: ChatMessage, now: number): HTMLElement {
    const revoked = m.revoked || m.status === 'revoked';
    const el = h('div', {
      class: 'msg',
      'data-testid': 'message',
      'data-key': m.key,
      'data-id': m.id ?? '',
      'data-status': m.status,
      'data-read': String(m.read),
      'data-mine': String(m.mine),
      'data-weight': String(m.weight),
      'data-kind': m.kind,
    });
    el.append(h('div', { class: 'time-line' }, formatTime(m.weight)));

    if (revoked || m.kind === 'system') {
      el.classList.add('notice');
      const text = revoked
        ? `${m.mine ? 'You' : m.senderName || this.userName(m.senderId)}: message revoked`
        : m.text ?? '';
      el.append(h('div', { class: 'notice-text', 'data-testid': revoked ? 'revoked-notice' : 'message-text' }, text));
      return el;
    }

    el.classList.add(m.mine ? 'mine' : 'theirs');
    if (m.mine && (m.status === 'failed' || m.status === 'sending')) el.classList.add(m.status);
    const bubble = h('div', { class: `bubble ${m.kind}` });
    switch (m.kind) {
      case 'text':
        bubble.append(h('span', { class: 'text', 'data-testid': 'message-text' }, m.text ?? ''));
        break;
      case 'image': {
        const img = h('img', { src: m.url ?? '', alt: 'image', loading: 'lazy', 'data-testid': 'message-image' });
        img.addEventListener('load', () => this.stickToBottom && this.scrollToBottom());
        img.addEventListener('click', () => m.url && window.open(m.url, '_blank', 'noopener'));
        bubble.append(img);
        break;
      }
      case 'video': {
        const video = h('video', { src: m.url ?? '', poster: m.cover ?? undefined, controls: true, preload: 'metadata', 'data-testid': 'message-video' });
        bubble.append(video);
        break;
      }
      default:
        bubble.append(h('span', { class: 'text custom', 'data-testid': 'message-text' }, `[unsupported message] ${m.raw ?? ''}`));
    }

    const isRoom = m.conversationId.startsWith('room_');
    const body = h(
      'div',
      { class: 'msg-body' },
      !m.mine && isRoom ? h('div', { class: 'sender' }, m.senderName || this.userName(m.senderId)) : null,
      bubble,
    );
    if (m.mine) body.append(this.metaEl(m, now));
    el.append(
      h('img', { class: 'avatar small', src: m.mine ? this.avatarOf(this.me, this.session.avatar) : this.avatarOf(m.senderId, m.senderAvatar), alt: '' }),
      body,
    );
    el.title = formatTime(m.weight);
    return el;
  }

  /** Status mark of a message of mine, and its actions. */
  private metaEl(m: ChatMessage, now: number): HTMLElement {
    const meta = h('div', { class: 'meta' });
    let mark: string;
    let label: string;
    // Plain characters, not emoji: they render without an emoji font.
    if (m.status === 'sending') [mark, label] = ['…', 'sending'];
    else if (m.status === 'failed') [mark, label] = ['!', 'failed'];
    else if (m.read) [mark, label] = ['✓✓', 'read'];
    else [mark, label] = ['✓', 'sent'];
    meta.append(h('span', { class: `mark ${label}`, 'data-testid': 'status-mark', title: label }, mark));
    if (m.conversationId.startsWith('room_') && m.status === 'sent' && !m.revoked) {
      // Group receipts: how many of the other members have read it, and who on hover.
      const names = m.readBy.map((id) => this.userName(id)).join(', ');
      const text = m.readBy.length === 0 ? 'Unread' : `Read by ${m.readBy.length}`;
      meta.append(h('span', { class: 'read-by', 'data-testid': 'read-by', title: names }, text));
    }
    if (m.status === 'failed') {
      const resend = h('button', { type: 'button', class: 'link', 'data-testid': 'resend' }, 'Resend');
      resend.addEventListener('click', () => {
        try {
          this.client.resend(m.key);
        } catch (e) {
          toast(`Resend failed: ${describe(e)}`);
        }
      });
      meta.append(resend);
    }
    if (this.revocable(m, now)) {
      const revoke = h('button', { type: 'button', class: 'link', 'data-testid': 'revoke' }, 'Revoke');
      revoke.addEventListener('click', () => {
        revoke.disabled = true;
        this.client.revoke(m.key).catch((e: unknown) => {
          revoke.disabled = false;
          toast(`Revoke failed: ${describe(e)}`);
        });
      });
      meta.append(revoke);
    }
    return meta;
  }

  // ---- sending ----------------------------------------------------------------------------

  private sendText(): void {
    const id = this.openId;
    const text = this.input.value;
    if (!id || text.trim() === '') return;
    try {
      this.client.sendText(id, text);
      this.input.value = '';
    } catch (e) {
      toast(`Send failed: ${describe(e)}`);
    }
    this.input.focus();
  }

  private sendMedia(kind: 'image' | 'video'): void {
    const id = this.openId;
    const url = this.mediaUrl.value.trim();
    const cover = this.mediaCover.value.trim() || undefined;
    if (!id) return;
    if (!url) {
      toast(`Enter the ${kind} URL first`, 'info');
      this.mediaUrl.focus();
      return;
    }
    try {
      if (kind === 'image') this.client.sendImage(id, url, cover);
      else this.client.sendVideo(id, url, cover);
      this.mediaUrl.value = '';
      this.mediaCover.value = '';
    } catch (e) {
      toast(`Send failed: ${describe(e)}`);
    }
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

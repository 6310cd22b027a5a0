// Demo chat page of imcore: login, then the chat (chat.ts). `?user=N` logs in as user N.
import init, { ChatClient } from 'imcore';
import { DEMO_USERS, login, rooms, users, type Session } from './api';
import { ChatView, PAGE_SIZE } from './chat';
import { describe, h, replaceChildren } from './dom';

declare global {
  interface Window {
    /** The ChatClient of this page, for debugging and the end-to-end tests. */
    imcoreClient?: ChatClient;
  }
}

const app = document.getElementById('app') as HTMLElement;
const wasm = init();

function showLogin(error?: string): void {
  const list = h('div', { class: 'login-users' });
  for (const u of DEMO_USERS) {
    const button = h(
      'button',
      { type: 'button', class: 'login-user', 'data-testid': 'login-user', 'data-user-id': u.user_id },
      h('img', { class: 'avatar', src: u.avatar, alt: '' }),
      h('span', {}, u.nick_name),
    );
    button.addEventListener('click', () => {
      const url = new URL(location.href);
      url.searchParams.set('user', u.user_id);
      history.replaceState(null, '', url);
      void start(u.user_id);
    });
    list.appendChild(button);
  }
  replaceChildren(
    app,
    h(
      'section',
      { class: 'login' },
      h('div', { class: 'logo', 'aria-hidden': 'true' }, 'im'),
      h('h1', {}, 'imcore chat'),
      h('p', { class: 'hint' }, 'Pick a demo user. Open another tab as someone else to chat.'),
      error ? h('p', { class: 'login-error', role: 'alert' }, error) : null,
      list,
    ),
  );
}

async function start(userId: string): Promise<void> {
  replaceChildren(app, h('div', { class: 'loading' }, 'Signing in…'));
  let session: Session;
  try {
    session = await login(userId);
  } catch (e) {
    showLogin(`Login failed: ${describe(e)}`);
    return;
  }
  try {
    const [all, roomList] = await Promise.all([users(session.token), rooms(session.token), wasm]);
    const others = all.filter((u) => u.user_id !== session.user_id).map((u) => u.user_id);
    const client = await ChatClient.create({
      userId: session.user_id,
      backend: { baseUrl: location.origin, token: session.token },
      contacts: others,
      pageSize: PAGE_SIZE,
      nickName: session.nick_name,
      avatar: session.avatar,
      logLevel: 'warn',
    });
    window.imcoreClient = client;
    const view = new ChatView(app, client, session, all, roomList, logout);
    view.mount();
    client.connect();
  } catch (e) {
    showLogin(`Could not start: ${describe(e)}`);
  }
}

async function logout(): Promise<void> {
  const client = window.imcoreClient;
  window.imcoreClient = undefined;
  if (client) {
    try {
      await client.disconnect();
    } catch {
      /* going anyway */
    }
  }
  const url = new URL(location.href);
  url.searchParams.delete('user');
  location.replace(url);
}

const wanted = new URLSearchParams(location.search).get('user');
if (wanted) void start(wanted);
else showLogin();

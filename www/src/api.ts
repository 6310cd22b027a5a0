// The demo backend's own endpoints (login, users, rooms); the ChatClient calls the
// PROTOCOL.md ones itself. Same origin as the page.

export interface User {
  user_id: string;
  nick_name: string;
  avatar: string;
}

export interface Session extends User {
  token: string;
}

export interface Room {
  room_id: string;
  name: string;
  conversation_id: string;
  members: string[];
  joined: boolean;
}

/** The demo users the server seeds (the login screen needs them before any token). */
export const DEMO_USERS: User[] = ['alice', 'bob', 'carol', 'dave', 'erin'].map((name, i) => ({
  user_id: String(i + 1),
  nick_name: name,
  avatar: `/avatars/${i + 1}.svg`,
}));

async function call<T>(path: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${location.origin}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  let json: { code?: number; msg?: string; data?: T };
  try {
    json = (await res.json()) as typeof json;
  } catch {
    throw new Error(`${path}: HTTP ${res.status}`);
  }
  if (json.code !== 0) throw new Error(`${path}: ${json.msg ?? `code ${json.code} (HTTP ${res.status})`}`);
  return json.data as T;
}

export async function login(userId: string): Promise<Session> {
  const d = await call<Session>('/login', { method: 'POST', body: { user_id: userId } });
  return { ...d, user_id: String(d.user_id) };
}

export async function users(token: string): Promise<User[]> {
  const list = await call<User[]>('/users', { token });
  return list.map((u) => ({ ...u, user_id: String(u.user_id) }));
}

interface RawRoom {
  room_id: string | number;
  name: string;
  conversation_id?: string;
  members?: (string | number)[];
  joined?: boolean;
}

export async function rooms(token: string): Promise<Room[]> {
  const list = await call<RawRoom[]>('/rooms', { token });
  return list.map((r) => ({
    room_id: String(r.room_id),
    name: r.name,
    conversation_id: r.conversation_id ?? `room_${r.room_id}`,
    members: (r.members ?? []).map(String),
    joined: !!r.joined,
  }));
}

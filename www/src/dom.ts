// Tiny DOM helpers. Every piece of data goes in through textContent or setAttribute: this
// page never assigns innerHTML.

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined>;

/** `<tag attrs…>children…</tag>`; `class` sets className, `false`/`null` attributes are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') el.className = String(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces every child of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

let toastBox: HTMLElement | null = null;

/** A short message at the bottom of the page. */
export function toast(text: string, kind: 'error' | 'info' = 'error'): void {
  if (!toastBox) {
    toastBox = h('div', { class: 'toasts', 'aria-live': 'polite' });
    document.body.appendChild(toastBox);
  }
  const item = h('div', { class: `toast ${kind}`, 'data-testid': 'toast', role: 'status' }, text);
  toastBox.appendChild(item);
  setTimeout(() => item.classList.add('leaving'), 4500);
  setTimeout(() => item.remove(), 5000);
}

/** What a thrown value says (ChatError: `code: message`). */
export function describe(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Clock time of a weight: "14:05" today, "Mon 14:05" this week, else "2024-06-01 14:05". */
export function formatTime(ms: number, short = false): string {
  const d = new Date(ms);
  const now = new Date();
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === now.toDateString()) return hm;
  const days = (now.getTime() - d.getTime()) / 86_400_000;
  if (days < 6 && days > 0) {
    const wd = d.toLocaleDateString(undefined, { weekday: 'short' });
    return short ? wd : `${wd} ${hm}`;
  }
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return short ? date : `${date} ${hm}`;
}

// The broker of the browser tests over HTTP: tools/broker-control.mjs, started by
// scripts/test-browser.sh, which puts its URL in $IMCORE_BROKER_CONTROL.
export const CONTROL = process.env.IMCORE_BROKER_CONTROL;

/** `method route` on broker-control: the answer's text; an HTTP error throws. */
export async function controlText(route, method = "POST") {
  const res = await fetch(CONTROL + route, { method });
  const body = await res.text();
  if (!res.ok) throw new Error(`broker-control ${method} ${route}: ${res.status} ${body}`);
  return body;
}

/** The same, its JSON answer (`GET /info`, and every POST, answer the broker's info). */
export const control = async (route, method = "POST") => JSON.parse(await controlText(route, method));

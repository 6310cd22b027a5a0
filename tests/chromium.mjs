// How every JS test starts Debian's Chromium through playwright-core: as root on a machine
// with a closed network, so no sandbox and none of the background connections (they would
// be refused, many at a time). playwright-core gives each launch a fresh temporary profile.
import net from "node:net";

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/**
 * Chromium for one test file: launched as above, its PID written to
 * $IMCORE_CHROMIUM_PID_FILE (when set) so the script running the tests can stop it should
 * this process die. `close()` ends it.
 */
export async function launchBrowser() {
  const [{ chromium }, fs] = await Promise.all([import("playwright-core"), import("node:fs")]);
  const server = await chromium.launchServer({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  if (process.env.IMCORE_CHROMIUM_PID_FILE) {
    fs.writeFileSync(process.env.IMCORE_CHROMIUM_PID_FILE, `${server.process().pid}\n`);
  }
  const browser = await chromium.connect(server.wsEndpoint());
  const close = async () => {
    try {
      await browser.close();
    } finally {
      await server.close();
    }
  };
  return { browser, close };
}

/**
 * A 127.0.0.1 port nothing listens on (bound by the system, then let go): a broker URL on
 * it is refused at once, the way a dead node's is. (Not a fixed low port: Chromium blocks
 * those as unsafe before trying.)
 */
export async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

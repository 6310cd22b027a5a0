// How every JS test starts Debian's Chromium through playwright-core: as root on a machine
// with a closed network, so no sandbox and none of the background connections (they would
// be refused, many at a time). playwright-core gives each launch a fresh temporary profile.
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

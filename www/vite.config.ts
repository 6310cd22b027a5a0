// Vite config of the demo chat page (scripts/build-www.sh). 'imcore' is the package built by
// scripts/build-wasm.sh: pkg/ by default, or IMCORE_PKG (relative to the working directory).
// Plain object export (no import of 'vite'), so any Vite binary can load it.
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const here = fileURLToPath(new URL('.', import.meta.url));
const pkg = process.env.IMCORE_PKG ? resolve(process.env.IMCORE_PKG) : resolve(here, '../pkg');

export default {
  root: here,
  base: './',
  publicDir: resolve(here, 'public'),
  clearScreen: false,
  resolve: { alias: [{ find: /^imcore$/, replacement: pkg }] },
  build: {
    outDir: resolve(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
  },
  server: { fs: { allow: [here, pkg] } },
};

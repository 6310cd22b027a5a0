#!/usr/bin/env node
// Usage: node scripts/minify-js.cjs esm|cjs FILE...
// Minifies each FILE in place with terser (a devDependency, pure JS): what a page or a
// mini-program downloads is the JS glue without its whitespace, comments and long local
// names. Called by scripts/build-wasm.sh release on the generated glue and the package's
// hand-written entries.
//   esm   ES modules (pkg/imcore.js, pkg/index.js, pkg/mqtt/imcore.js): their exports keep
//         their names (terser never renames an exported binding).
//   cjs   CommonJS files (pkg/miniprogram/*.js): each is a module of its own, so top-level
//         names are mangled too; `require`, `module` and `exports` are free names and stay.
// Property names are never mangled, so the import object the wasm module reads
// (`__wbg_…` keys) and every method name are kept. Class names stay (keep_classnames:
// `constructor.name` and stack traces still say ChatClient, MqttClient, …); local function
// names do not (~200 B more per glue gzipped). The one comment kept is `@ts-self-types`,
// which points tools at the .d.ts.
'use strict';
const fs = require('fs');
let minify;
try {
  ({ minify } = require('terser'));
} catch (e) {
  console.error('[minify-js] terser is missing: run scripts/install.sh (npm ci)');
  process.exit(1);
}

async function main() {
  const [kind, ...files] = process.argv.slice(2);
  if ((kind !== 'esm' && kind !== 'cjs') || files.length === 0) {
    console.error('usage: minify-js.cjs esm|cjs FILE...');
    process.exit(2);
  }
  for (const f of files) {
    const src = fs.readFileSync(f, 'utf8');
    const out = await minify(src, {
      ecma: 2020,
      module: kind === 'esm',
      toplevel: true,
      compress: { passes: 2 },
      mangle: true,
      keep_classnames: true,
      format: { comments: /@ts-self-types/ },
    });
    if (typeof out.code !== 'string' || out.code.length === 0) {
      throw new Error(`terser gave no code for ${f}`);
    }
    fs.writeFileSync(f, out.code + '\n');
    console.log(`[minify-js] ${f}: ${src.length} -> ${out.code.length + 1} bytes`);
  }
}

main().catch((e) => {
  console.error(`[minify-js] ${e.stack || e}`);
  process.exit(1);
});

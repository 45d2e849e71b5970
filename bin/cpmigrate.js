#!/usr/bin/env node
// The cpmigrate CLI. Runs the build (dist/, from `npm run build`) with plain
// node. In a checkout whose dist/ is missing or older than src/, or with
// CPM_FROM_SOURCE=1, it runs the TypeScript source through tsx (a dev
// dependency) instead, so a stale build never answers for edited code;
// CPM_FROM_DIST=1 insists on the build.
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const root = path.join(__dirname, '..');
const built = path.join(root, 'dist', 'client.js');
const source = path.join(root, 'src', 'client.ts');

function newestMtime(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

function useSource() {
  if (process.env.CPM_FROM_DIST === '1') return false;
  if (!fs.existsSync(source)) return false;
  if (process.env.CPM_FROM_SOURCE === '1' || !fs.existsSync(built)) return true;
  return newestMtime(path.join(root, 'src')) > fs.statSync(built).mtimeMs;
}

let entry = built;
if (useSource()) {
  try {
    require('tsx/cjs/api').register();
  } catch {
    process.stderr.write('cpmigrate: no build in dist/ and no tsx to run the source: run `npm run build` (or `npm ci` for the dev dependencies)\n');
    process.exit(1);
  }
  entry = source;
}
void require(entry).main(process.argv);

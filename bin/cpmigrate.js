#!/usr/bin/env node
// Runs the TypeScript CLI from a checkout (npx cpmigrate ...), or the built one if present.
const path = require('node:path');
const fs = require('node:fs');
const built = path.join(__dirname, '..', 'dist', 'src', 'client.js');
if (process.env.CPM_USE_DIST === '1' && fs.existsSync(built)) {
  require(built).buildProgram().parseAsync(process.argv);
} else {
  require('tsx/cjs/api').register();
  const { buildProgram } = require('../src/client.ts');
  buildProgram()
    .parseAsync(process.argv)
    .catch((err) => {
      process.stderr.write(`cpmigrate: ${err.message}\n`);
      process.exit(1);
    });
}

// The files the workflow bundle imports: every value (non `import type`)
// import reachable from src/workflows/index.ts. eslint.config.mjs bans Node
// built-ins on exactly these, so a new file the workflow starts to import is
// covered without anyone remembering to list it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const IMPORT = /^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]+)['"]/gm;

function resolve(from, spec) {
  const base = path.resolve(path.dirname(from), spec);
  return [`${base}.ts`, path.join(base, 'index.ts'), base].find((c) => c.endsWith('.ts') && existsSync(c));
}

/** Repo-relative paths (posix) of the workflow bundle's own source files. */
export function workflowBundleFiles(root, entry = 'src/workflows/index.ts') {
  const seen = new Set();
  const walk = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      if (m[1]) continue; // import type: erased, not bundled
      const next = resolve(file, m[2]);
      if (next) walk(next);
    }
  };
  walk(path.resolve(root, entry));
  return [...seen].map((f) => path.relative(root, f).split(path.sep).join('/')).sort();
}

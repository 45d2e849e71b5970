// `npm run test:fast`: every pure test — no root, no servers, no spawned CLI,
// no Temporal worker — found by what the test files import, so a new pure test
// joins by itself and a test that starts to use a server leaves by itself.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import base from './vitest.config.mts';

/** What makes a test file slow or privileged: servers, the lab, a worker, a spawned CLI or browser. */
const HEAVY = [
  /from '\.\/support\/(temporal|temporal-tls|sshd|etcd-cluster|kube-control-plane|journal-worker|history|history-variants|recording-activities|local-hostops)'/,
  /from '@temporalio\/(testing|worker)'/,
  /from '\.\.\/src\/lab\//,
  /from 'playwright-core'/,
  /bin', 'cpmigrate\.js'|bin\/cpmigrate\.js/,
  /typescript\/bin\/tsc/,
];

const dir = path.join(import.meta.dirname, 'test');
export const fastTests = readdirSync(dir)
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => !HEAVY.some((re) => re.test(readFileSync(path.join(dir, f), 'utf8'))))
  .map((f) => `test/${f}`)
  .sort();

// the base config's include would be merged into ours (arrays concatenate), so take its settings, not merge
export default defineConfig({ test: { ...base.test, include: fastTests, testTimeout: 30_000 } });

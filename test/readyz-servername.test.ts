/**
 * The LB check before a new master's keepalived starts verifies the served
 * certificate for the VIP (what clients will connect to), not for the host's
 * own address: behind a new master's LB may be a kept host's apiserver whose
 * certificate never named the new host (the replace-failed shape on the lab).
 * A real TLS server with a cert for the VIP only.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeReadyz } from '../src/activities/readyz';
import { makeKubePki } from './support/pki';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cpm-readyz-'));
let server: Server;
let port = 0;

beforeAll(async () => {
  await makeKubePki(dir, { apiserverSANs: ['IP:198.18.0.100', 'DNS:kubernetes'], minimal: true });
  server = createServer({ cert: readFileSync(path.join(dir, 'apiserver.crt')), key: readFileSync(path.join(dir, 'apiserver.key')) }, (_req, res) =>
    res.end('ok'),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
}, 60_000);
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('readyz with the name clients use', () => {
  it('a certificate without the host address fails for the address and passes for the VIP it names', async () => {
    const ca = readFileSync(path.join(dir, 'ca.crt'));
    const byAddress = await probeReadyz(`127.0.0.1:${port}`, ca);
    expect(byAddress.ok).toBe(false);
    expect(byAddress.error).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    const asVip = await probeReadyz(`127.0.0.1:${port}`, ca, undefined, 5_000, '198.18.0.100');
    expect(asVip).toMatchObject({ ok: true, status: 200, body: 'ok' });
    // and a name the certificate does not carry still fails
    expect((await probeReadyz(`127.0.0.1:${port}`, ca, undefined, 5_000, '198.18.0.99')).ok).toBe(false);
  });
});

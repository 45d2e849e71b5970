/**
 * The lab's old masters run kube-apiserver with an audit policy and encryption
 * at rest (src/lab/configs.ts). Proven here on the real apiserver, without the
 * lab: it starts with those flags, and a Secret is stored aescbc-encrypted in
 * etcd (what the e2e then checks on the new masters after the migration).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditPolicy, encryptionConfig } from '../src/lab/configs';
import { withEtcdClient } from '../src/lib/etcd';
import { kubeControlPlaneUnavailable, startKubeControlPlane, type KubeControlPlane } from './support/kube-control-plane';

const dir = mkdtempSync(path.join(tmpdir(), 'cpm-apiserver-settings-'));
let cp: KubeControlPlane | undefined;

beforeAll(async () => {
  const unavailable = kubeControlPlaneUnavailable();
  if (unavailable) throw new Error(unavailable);
  writeFileSync(path.join(dir, 'audit-policy.yaml'), auditPolicy(), { mode: 0o600 });
  writeFileSync(path.join(dir, 'encryption-config.yaml'), encryptionConfig(randomBytes(32).toString('base64')), { mode: 0o600 });
  cp = await startKubeControlPlane({
    ip: '127.0.3.17',
    controllerManager: false,
    scheduler: false,
    apiserverFlags: [
      `--audit-policy-file=${path.join(dir, 'audit-policy.yaml')}`,
      '--audit-log-path=-',
      `--encryption-provider-config=${path.join(dir, 'encryption-config.yaml')}`,
    ],
  });
}, 180_000);

afterAll(async () => {
  await cp?.stop();
}, 60_000);

describe("the lab's apiserver settings", () => {
  it('start the real kube-apiserver, and Secrets are stored aescbc-encrypted', async () => {
    const api = (cp as KubeControlPlane).kc.makeApiClient(CoreV1Api);
    await api.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'enc' }, stringData: { token: 'plain' } } });
    const back = await api.readNamespacedSecret({ namespace: 'default', name: 'enc' });
    expect(Buffer.from(back.data?.token ?? '', 'base64').toString()).toBe('plain');
    const raw = await withEtcdClient({ callTimeoutMs: 5_000, maxRaftIndexLag: 1000 }, [(cp as KubeControlPlane).etcdURL], (c) =>
      c.get('/registry/secrets/default/enc').buffer(),
    );
    expect(raw?.subarray(0, 18).toString('latin1')).toBe('k8s:enc:aescbc:v1:');
    expect(raw?.includes(Buffer.from('plain'))).toBe(false);
  }, 60_000);
});

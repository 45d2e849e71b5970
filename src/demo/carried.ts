/**
 * The lab's old masters run non-default settings (src/lab/configs.ts): these
 * checks prove the new masters carry them after the migration. A Secret
 * written before the migration must still decrypt afterwards, and be stored
 * encrypted in the new etcd members. Read-only (seedSecret writes the Secret).
 */
import * as k8s from '@kubernetes/client-node';
import { etcdAccess, withEtcdClient } from '../lib/etcd';
import { statPaths } from '../lib/file-meta';
import type { HostOps } from '../lib/hostops';
import { clientRetry } from './probe';
import { AUDIT_POLICY, ENCRYPTION_CONFIG, LB_CHECK, labEtcdTuning } from '../lab/configs';
import { addedMasters, sshTargetOf } from '../plan/hosts';
import type { Plan } from '../plan/schema';
import type { Check } from './verify';

export const SECRET = { namespace: 'default', name: 'cpmigrate-encrypted', key: 'token', value: 'written-before-the-migration' };

function core(plan: Plan): k8s.CoreV1Api {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(plan.kubeconfig);
  return kc.makeApiClient(k8s.CoreV1Api);
}

/** Before the migration: a Secret the old apiservers store encrypted (aescbc). Idempotent. */
export async function seedSecret(plan: Plan): Promise<void> {
  const api = core(plan);
  const body = { metadata: { name: SECRET.name }, stringData: { [SECRET.key]: SECRET.value } };
  try {
    await clientRetry().execute(() => api.createNamespacedSecret({ namespace: SECRET.namespace, body }));
  } catch (e) {
    if ((e as { code?: number }).code !== 409) throw e;
  }
}

export async function verifyCarried(plan: Plan, hostOps: () => HostOps): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const safely = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      add(name, false, `could not check: ${(e as Error).message}`);
    }
  };
  const ops = hostOps();
  // the hosts the migration configured (a kept host's configs are its own)
  for (const h of addedMasters(plan)) {
    const t = sshTargetOf(plan, h);
    const read = async (p: string) => (await ops.readFile(t, p))?.toString('utf8') ?? '';
    await safely(`${h.name}: etcd carries the old members' settings, mode 0600`, async () => {
      const file = plan.paths.etcdConfig;
      const text = await read(file);
      const tuning = labEtcdTuning();
      const missing = tuning.filter((l) => !text.split('\n').includes(l));
      const mode = (await statPaths(ops, t, [file])).get(file)?.file?.mode;
      add(
        `${h.name}: etcd carries the old members' settings, mode 0600`,
        missing.length === 0 && mode === 0o600,
        missing.length ? `missing: ${missing.join(', ')}` : `all ${tuning.length} carried; mode ${mode?.toString(8)}`,
      );
    });
    await safely(`${h.name}: kube-apiserver carries audit policy and encryption config (0600)`, async () => {
      const cfg = await read(plan.paths.apiserverConfig);
      const flags = [`--audit-policy-file=${AUDIT_POLICY}`, '--audit-log-path=-', `--encryption-provider-config=${ENCRYPTION_CONFIG}`].filter(
        (f) => !cfg.includes(f),
      );
      const meta = await statPaths(ops, t, [AUDIT_POLICY, ENCRYPTION_CONFIG, plan.paths.apiserverConfig]);
      const modes = [...meta.entries()].map(([p, m]) => `${p} ${m.file ? m.file.mode.toString(8) : 'absent'}`);
      const ok = flags.length === 0 && [...meta.values()].every((m) => m.file?.mode === 0o600);
      add(
        `${h.name}: kube-apiserver carries audit policy and encryption config (0600)`,
        ok,
        `${flags.length ? `missing flags ${flags.join(' ')}; ` : ''}${modes.join(', ')}`,
      );
    });
    await safely(`${h.name}: keepalived carries ${LB_CHECK}, remapped to ${h.address}`, async () => {
      const text = await read(plan.paths.keepalivedConfig);
      const ok =
        text.includes(`vrrp_script ${LB_CHECK} {`) &&
        text.includes(`https://${h.address}:${plan.loadBalancer.port}/healthz`) &&
        /track_script \{\s+chk_apiserver_lb\s+\}/.test(text) &&
        !plan.oldMasters.some((o) => text.includes(o.address));
      add(
        `${h.name}: keepalived carries ${LB_CHECK}, remapped to ${h.address}`,
        ok,
        ok ? 'vrrp_script, track_script and script_security carried; no old address' : text.slice(0, 400),
      );
    });
  }
  await safely('the Secret written before the migration still decrypts', async () => {
    const s = await core(plan).readNamespacedSecret({ namespace: SECRET.namespace, name: SECRET.name });
    const got = Buffer.from(s.data?.[SECRET.key] ?? '', 'base64').toString('utf8');
    add(
      'the Secret written before the migration still decrypts',
      got === SECRET.value,
      `${SECRET.namespace}/${SECRET.name}.${SECRET.key} = ${got === SECRET.value ? 'as written' : JSON.stringify(got)}`,
    );
  });
  await safely('the Secret is stored encrypted (aescbc) in the new etcd members', async () => {
    const raw = await withEtcdClient(
      etcdAccess(plan),
      plan.newMasters.map((h) => h.etcd.clientURL),
      (c) => c.get(`/registry/secrets/${SECRET.namespace}/${SECRET.name}`).buffer(),
    );
    const prefix = raw?.subarray(0, 24).toString('latin1') ?? '';
    add(
      'the Secret is stored encrypted (aescbc) in the new etcd members',
      prefix.startsWith('k8s:enc:aescbc:v1:'),
      `stored value starts with ${JSON.stringify(prefix)}`,
    );
  });
  return checks;
}

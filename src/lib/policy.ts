/**
 * The worker's own policy: what this worker may touch, whatever a workflow's
 * plan says. Anyone who can start a workflow in the namespace chooses the
 * plan; only whoever deploys the worker chooses this file
 * (CPM_WORKER_POLICY=/etc/cpmigrate/worker-policy.yaml). Without the variable
 * the worker runs unrestricted (development) and says so at start.
 *
 * Checked before connecting, one place each: SSH (SshHostOps.connect), the
 * admin kubeconfig's API server (loadKubeConfigFile) and readyz probes that
 * would send its credentials (probeReadyz), and the whole plan before every
 * activity (src/activities/policy.ts). A violation is PolicyViolationError
 * (non-retryable), naming the rule.
 */
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { parse } from 'yaml';
import { z } from 'zod';
import { PolicyViolationError } from '../errors';

export const policySchema = z
  .object({
    /** cluster names this worker may migrate; `*` globs allowed */
    clusters: z.array(z.string().min(1)),
    /** where SSH and etcd connections may go: CIDRs, single IPs, or exact host names */
    hostCIDRs: z.array(z.string().min(1)),
    /** private keys the plan may name for SSH (exact paths) */
    privateKeyPaths: z.array(z.string().min(1)),
    /** known_hosts files the plan may name (exact paths) */
    knownHostsPaths: z.array(z.string().min(1)).default([]),
    /** where the admin kubeconfig's credentials may be sent: CIDRs, IPs or exact host names */
    apiServerAddresses: z.array(z.string().min(1)),
    /** `commands`-type services and etcd.prepareDataDir: arbitrary shell on the masters */
    allowCommandServices: z.boolean().default(false),
  })
  .strict();

export type WorkerPolicy = z.output<typeof policySchema>;

export function loadPolicyFile(file: string): WorkerPolicy {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the worker policy ${file}: ${(e as Error).message}`);
  }
  const r = policySchema.safeParse(doc);
  if (!r.success) throw new Error(`invalid worker policy ${file}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

let cached: { file: string | undefined; policy: WorkerPolicy | undefined } | undefined;

/** The policy named by CPM_WORKER_POLICY (read once per path); undefined when unset. */
export function activePolicy(env = process.env): WorkerPolicy | undefined {
  const file = env.CPM_WORKER_POLICY || undefined;
  if (!cached || cached.file !== file) cached = { file, policy: file ? loadPolicyFile(file) : undefined };
  return cached.policy;
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

/** Is `host` (an IP or a name) inside one of `entries` (CIDRs, IPs, exact names)? */
export function addressAllowed(entries: readonly string[], host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  const family = isIP(h);
  const list = new BlockList();
  for (const e of entries) {
    const [net, bits] = e.split('/');
    const fam = isIP(net ?? '');
    if (!fam) {
      if (e.toLowerCase() === h.toLowerCase()) return true;
      continue;
    }
    const type = fam === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(net as string, type);
    else list.addSubnet(net as string, Number(bits), type);
  }
  return family ? list.check(h, family === 6 ? 'ipv6' : 'ipv4') : false;
}

export function hostOfUrl(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return url.split(':')[0] ?? url;
  }
}

const fail = (rule: string, message: string): never => {
  throw new PolicyViolationError(rule, `worker policy (${rule}): ${message}`);
};

export function checkCluster(p: WorkerPolicy, cluster: string): void {
  if (!p.clusters.some((c) => globMatch(c, cluster)))
    fail('clusters', `cluster "${cluster}" is not one this worker may migrate (allowed: ${p.clusters.join(', ') || 'none'})`);
}

export function checkSshTarget(p: WorkerPolicy, t: { name: string; address: string; privateKeyPath: string; knownHostsPath?: string }): void {
  if (!addressAllowed(p.hostCIDRs, t.address))
    fail('hostCIDRs', `${t.name} (${t.address}) is outside the hosts this worker may reach (${p.hostCIDRs.join(', ') || 'none'}); not connecting`);
  if (!p.privateKeyPaths.includes(t.privateKeyPath)) fail('privateKeyPaths', `private key ${t.privateKeyPath} (for ${t.name}) is not one this worker may use`);
  if (t.knownHostsPath && !p.knownHostsPaths.includes(t.knownHostsPath))
    fail('knownHostsPaths', `known_hosts ${t.knownHostsPath} (for ${t.name}) is not one this worker may use`);
}

export function checkEtcdEndpoint(p: WorkerPolicy, url: string): void {
  if (!addressAllowed(p.hostCIDRs, hostOfUrl(url)))
    fail('hostCIDRs', `etcd endpoint ${url} is outside the hosts this worker may reach (${p.hostCIDRs.join(', ') || 'none'})`);
}

/** Before the admin kubeconfig's credentials go to `url`. */
export function checkApiServer(p: WorkerPolicy, url: string, what: string): void {
  if (!addressAllowed(p.apiServerAddresses, hostOfUrl(url)))
    fail(
      'apiServerAddresses',
      `${what} ${url} is not an API address this worker may send the admin credentials to (${p.apiServerAddresses.join(', ') || 'none'})`,
    );
}

/** Run `check` against the active policy, if there is one. */
export function enforce(check: (p: WorkerPolicy) => void): void {
  const p = activePolicy();
  if (p) check(p);
}

/**
 * `~/` in the plan's worker-side paths, expanded in ONE place. The plan may
 * name files on the worker (kubeconfig, SSH keys, known_hosts, etcd client
 * TLS, the snapshot, the VRRP password file) as `~/...`; the worker's
 * activities all receive the plan through expandPlanPaths (wired once in
 * src/activities/index.ts), so no activity has to remember. Paths on the
 * hosts (`paths.*`, service manifests) are NOT expanded here: they are quoted
 * in remote commands, where `~` would not expand either; preflight refuses them.
 */
import os from 'node:os';
import type { Plan, SshAccess } from '../plan/schema';

export function expandHome(p: string): string {
  if (p === '~') return os.homedir();
  return p.startsWith('~/') ? `${os.homedir()}/${p.slice(2)}` : p;
}

function expandSsh<T extends SshAccess | undefined>(s: T): T {
  if (!s) return s;
  return {
    ...s,
    ...(s.privateKeyPath ? { privateKeyPath: expandHome(s.privateKeyPath) } : {}),
    ...(s.knownHostsPath ? { knownHostsPath: expandHome(s.knownHostsPath) } : {}),
  };
}

/** The plan with every worker-side path expanded (a new object; the input is not changed). */
export function expandPlanPaths(plan: Plan): Plan {
  const host = <H extends { ssh?: SshAccess | undefined }>(h: H): H => (h.ssh ? { ...h, ssh: expandSsh(h.ssh) } : h);
  const tls = plan.etcd.tls;
  return {
    ...plan,
    kubeconfig: expandHome(plan.kubeconfig),
    defaults: { ...plan.defaults, ssh: expandSsh(plan.defaults.ssh) },
    oldMasters: plan.oldMasters.map(host),
    newMasters: plan.newMasters.map(host),
    workerNodes: plan.workerNodes.map(host),
    etcd: {
      ...plan.etcd,
      snapshotPath: expandHome(plan.etcd.snapshotPath),
      ...(tls ? { tls: { caFile: expandHome(tls.caFile), certFile: expandHome(tls.certFile), keyFile: expandHome(tls.keyFile) } } : {}),
    },
    keepalived: { ...plan.keepalived, ...(plan.keepalived.authPassFile ? { authPassFile: expandHome(plan.keepalived.authPassFile) } : {}) },
  };
}

/** Is `v` a plan (the first argument of most activities)? */
export function isPlan(v: unknown): v is Plan {
  return typeof v === 'object' && v !== null && (v as { apiVersion?: unknown }).apiVersion === 'cpmigrate/v1' && 'oldMasters' in v;
}

/** Host-side paths of the plan that start with ~ (refused by preflight: nothing on a host expands them). */
export function hostPathsWithTilde(plan: Plan): string[] {
  const out = Object.entries(plan.paths)
    .filter(([, v]) => typeof v === 'string' && v.startsWith('~'))
    .map(([k, v]) => `paths.${k} = ${String(v)}`);
  for (const [c, s] of Object.entries({
    etcd: plan.etcd.service,
    apiserver: plan.apiserver.service,
    controllerManager: plan.controllerManager.service,
    scheduler: plan.scheduler.service,
    loadBalancer: plan.loadBalancer.service,
    keepalived: plan.keepalived.service,
  })) {
    if (s.type === 'staticPod') {
      if (s.manifest.startsWith('~')) out.push(`${c}.service.manifest = ${s.manifest}`);
      if (s.disabledDir?.startsWith('~')) out.push(`${c}.service.disabledDir = ${s.disabledDir}`);
    }
  }
  return out;
}

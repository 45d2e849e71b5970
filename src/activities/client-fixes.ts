/**
 * The client-fixes step's activities: apply exactly the changes preflight
 * proposed (src/plan/client-fix.ts), once the client-fixes checkpoint is
 * approved, and undo them (compensation).
 *
 * - kubelet / controller-manager / scheduler kubeconfig: read over SSH, the
 *   server line rewritten (only FROM → TO), written atomically next to the
 *   file and renamed over it, the previous version kept as
 *   FILE.cpmigrate-bak-<sha8>, mode and owner kept (HostOps.pushFile).
 * - kube-proxy: the ConfigMap's kubeconfig patched (resourceVersion-guarded),
 *   its DaemonSet rolled (restartedAt token: a retry does not roll twice).
 * - restarts through the plan's service definitions; a kubelet's Node must
 *   report Ready with a new heartbeat before the workflow moves to the next.
 *
 * Idempotent: a file or ConfigMap that already points at TO is left alone. A
 * client that points at neither FROM nor TO changed since it was approved:
 * refused (PlanMismatchError), never overwritten.
 */
import { PlanMismatchError } from '../errors';
import { failpoint } from '../lib/failpoint';
import type { HostOps } from '../lib/hostops';
import { KubeconfigRewriteError, kubeconfigServer, rewriteKubeconfigServer } from '../lib/kubeconfig-server';
import { serviceCommand } from '../lib/services';
import { shq } from '../lib/shell';
import { fixId, type ClientFix, type ControlPlaneKubeconfigFix, type KubeletFix } from '../plan/client-fix';
import { durationMs, formatMs } from '../plan/duration';
import { findHost, sshTargetOf, type SshTarget } from '../plan/hosts';
import type { Plan } from '../plan/schema';
import { sleepUnlessCancelled as sleep } from '../lib/sleep';
import { beat } from '../lib/heartbeat';
import { createKubeActivities } from './kube';
import { createKubeClientActivities, type KubeClientActivities } from './kube-clients';
import type { StepOutcome } from './types';

export interface ClientFixDeps {
  hostOps: () => HostOps;
  kubeClients?: KubeClientActivities;
  /** rollout restart of a DaemonSet (default: the kube activities' rolloutRestart) */
  rolloutDaemonSet?: (plan: Plan, namespace: string, name: string, token: string) => Promise<StepOutcome>;
  /** poll interval while waiting for a Node (tests shorten it); default 1000 ms */
  pollMs?: number;
}

export interface RestartOutcome extends StepOutcome {
  /** kubelet: the Node's Ready heartbeat before the restart (waitNodeReady waits for a newer one) */
  heartbeatBefore?: string;
}

type FileFix = KubeletFix | ControlPlaneKubeconfigFix;

const COMPONENT_UNIT = { controllerManager: 'kube-controller-manager', scheduler: 'kube-scheduler' } as const;

/** Where a fix's file lives: the plan host (its own ssh settings) or the Node at the address preflight used. */
function targetOf(plan: Plan, fix: FileFix): SshTarget {
  if (!fix.planHost) return sshTargetOf(plan, { name: fix.node, address: fix.address });
  const worker = plan.workerNodes.find((w) => w.name === fix.node);
  return sshTargetOf(plan, worker ?? findHost(plan, fix.node));
}

function restartCommand(plan: Plan, fix: FileFix): string {
  return serviceCommand(fix.kind === 'kubelet' ? plan.clients.kubelet.service : plan[fix.component].service, 'restart');
}

export function createClientFixActivities(deps: ClientFixDeps) {
  const pollMs = deps.pollMs ?? 1000;
  const kube = () => deps.kubeClients ?? createKubeClientActivities();
  const rollout =
    deps.rolloutDaemonSet ??
    ((plan: Plan, namespace: string, name: string, token: string) => createKubeActivities().rolloutRestart(plan, 'DaemonSet', name, token, { namespace }));

  async function rewriteFile(plan: Plan, fix: FileFix, from: string, to: string): Promise<StepOutcome> {
    const ops = deps.hostOps();
    const t = targetOf(plan, fix);
    const text = (await ops.readFile(t, fix.file))?.toString('utf8');
    if (text === undefined) throw new PlanMismatchError(`${fix.node}: ${fix.file} is gone since preflight checked it`);
    let next;
    try {
      next = rewriteKubeconfigServer(text, from, to);
    } catch (e) {
      if (e instanceof KubeconfigRewriteError)
        throw new PlanMismatchError(`${fix.node}: ${fix.file}: ${e.message}; refusing to overwrite it (run preflight again)`);
      throw e;
    }
    if (!next.changed) return { summary: `${fixId(fix)}: ${fix.file} already uses ${to}`, changed: false };
    const pushed = await ops.pushFile(t, fix.file, next.text, { backup: true });
    failpoint('clientfix.file.after-write', fixId(fix));
    return {
      summary: `${fixId(fix)}: ${fix.file} server ${from} → ${to}${pushed.backupPath ? ` (backup ${pushed.backupPath})` : ''}`,
      changed: true,
      details: { backupPath: pushed.backupPath },
    };
  }

  /** Rewrite the kubeconfig / patch the ConfigMap, FROM → TO. */
  async function applyClientFix(plan: Plan, fix: ClientFix): Promise<StepOutcome> {
    if (fix.kind !== 'kube-proxy') return rewriteFile(plan, fix, fix.from, fix.to);
    const ref = `ConfigMap ${fix.namespace}/${fix.configMap}`;
    let r;
    try {
      r = await kube().patchKubeProxyServer(plan, fix.key, fix.from, fix.to);
    } catch (e) {
      if (e instanceof KubeconfigRewriteError) throw new PlanMismatchError(`${ref} (${fix.key}): ${e.message}; refusing to overwrite it (run preflight again)`);
      throw e;
    }
    if (r.changed) failpoint('clientfix.kubeproxy.after-patch', fixId(fix));
    return { summary: r.changed ? `${ref} (${fix.key}) server ${fix.from} → ${fix.to}` : `${ref} already uses ${fix.to}`, changed: r.changed };
  }

  /** kubelet / component: restart through the plan's service; kube-proxy: roll its DaemonSet and wait for it. */
  async function restartClient(plan: Plan, fix: ClientFix, token: string): Promise<RestartOutcome> {
    if (fix.kind === 'kube-proxy') {
      const r = await rollout(plan, fix.namespace, fix.daemonSet, token);
      return { summary: r.summary, changed: r.changed };
    }
    const before = fix.kind === 'kubelet' ? (await kube().readNodeReadiness(plan, fix.node)).heartbeat : undefined;
    const cmd = restartCommand(plan, fix);
    await deps.hostOps().run(targetOf(plan, fix), cmd, { timeoutMs: 120_000 });
    failpoint('clientfix.service.after-restart', fixId(fix));
    const what = fix.kind === 'kubelet' ? 'kubelet' : COMPONENT_UNIT[fix.component];
    return { summary: `${what} restarted on ${fix.node} (${cmd})`, changed: true, ...(before !== undefined ? { heartbeatBefore: before } : {}) };
  }

  /** Until the Node is Ready with a heartbeat newer than `heartbeatBefore` (the kubelet came back), within plan.clients.kubelet.readyTimeout. */
  async function waitNodeReady(plan: Plan, node: string, heartbeatBefore?: string): Promise<StepOutcome> {
    const timeoutMs = durationMs(plan.clients.kubelet.readyTimeout);
    const t0 = Date.now();
    for (;;) {
      const r = await kube().readNodeReadiness(plan, node);
      beat({ node, ready: r.ready, heartbeat: r.heartbeat });
      const fresh = !heartbeatBefore || (r.heartbeat !== '' && r.heartbeat !== heartbeatBefore);
      if (r.ready && fresh)
        return { summary: `Node ${node} Ready again after ${formatMs(Date.now() - t0)}${r.message ? ` (${r.message})` : ''}`, changed: false };
      if (Date.now() - t0 > timeoutMs) {
        throw new Error(
          `Node ${node} not Ready${fresh ? '' : ' with a new heartbeat'} ${formatMs(timeoutMs)} after its kubelet restarted: ${r.reason ?? ''} ${r.message ?? ''}`.trim(),
        );
      }
      await sleep(pollMs);
    }
  }

  /** The newest backup of `fix.file` that still points at FROM. */
  async function findBackup(ops: HostOps, t: SshTarget, fix: FileFix): Promise<{ path: string; text: string } | undefined> {
    const ls = await ops.run(t, `ls -1t -- ${shq(fix.file)}.cpmigrate-bak-* 2>/dev/null || true`);
    for (const path of ls.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)) {
      const text = (await ops.readFile(t, path))?.toString('utf8');
      if (text !== undefined && kubeconfigServer(text) === fix.from) return { path, text };
    }
    return undefined;
  }

  /**
   * Compensation: put back what applyClientFix changed, then restart the client.
   * Files: the backup restored (atomically, mode and owner kept); ConfigMap: TO → FROM and rolled again.
   * Nothing to undo (never applied, or already reverted): a no-op.
   */
  async function revertClientFix(plan: Plan, fix: ClientFix, token: string): Promise<RestartOutcome> {
    if (fix.kind === 'kube-proxy') {
      const r = await kube().patchKubeProxyServer(plan, fix.key, fix.to, fix.from);
      if (!r.changed) return { summary: `${fixId(fix)}: ConfigMap already uses ${fix.from}`, changed: false };
      const rolled = await rollout(plan, fix.namespace, fix.daemonSet, token);
      return { summary: `${fixId(fix)}: ConfigMap back to ${fix.from}; ${rolled.summary}`, changed: true };
    }
    const ops = deps.hostOps();
    const t = targetOf(plan, fix);
    const text = (await ops.readFile(t, fix.file))?.toString('utf8');
    const server = text === undefined ? undefined : kubeconfigServer(text);
    if (server !== fix.to) return { summary: `${fixId(fix)}: ${fix.file} uses ${server ?? '(no file)'}: nothing to undo`, changed: false };
    const backup = await findBackup(ops, t, fix);
    if (!backup)
      throw new PlanMismatchError(`${fixId(fix)}: no backup of ${fix.file} pointing at ${fix.from} (${fix.file}.cpmigrate-bak-*): restore it by hand`);
    const before = fix.kind === 'kubelet' ? (await kube().readNodeReadiness(plan, fix.node)).heartbeat : undefined;
    await ops.pushFile(t, fix.file, backup.text);
    failpoint('clientfix.revert.after-restore', fixId(fix));
    await ops.run(t, restartCommand(plan, fix), { timeoutMs: 120_000 });
    return {
      summary: `${fixId(fix)}: ${fix.file} restored from ${backup.path}; restarted`,
      changed: true,
      ...(before !== undefined ? { heartbeatBefore: before } : {}),
    };
  }

  return { applyClientFix, restartClient, waitNodeReady, revertClientFix };
}

export type ClientFixActivities = ReturnType<typeof createClientFixActivities>;

/**
 * What each runbook phase does, as activity calls. Workflow code: only
 * orchestration, no I/O. Each runner returns a one-line summary for status.
 */
import { patched, workflowInfo } from '@temporalio/workflow';
import { EtcdJoinCleanupFailure } from '../errors';
import { addedMasters, findHost, keptMasters, leavingMasters, liveOldMasters } from '../plan/hosts';
import type { ClientFix } from '../plan/client-fix';
import type { Plan } from '../plan/schema';
import { earlyLeavers, type ActionStep } from '../plan/steps';
import type { Proxies } from './activities';
import { applyClientFixes } from './client-fixes';

export type Progress = (waitingFor: string) => void;

/** What a runner needs: the plan, the activity proxies, and a way to report what it waits for. */
export interface Ctx extends Proxies {
  plan: Plan;
  progress: Progress;
  /** call right before a change that cannot simply be undone: throws on abort, waits while paused */
  beforeIrreversible: (what: string) => Promise<void>;
  /** the client fixes preflight proposed (client-fixes step only) */
  clientFixes?: readonly ClientFix[];
}

function must<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`internal: ${what} missing`);
  return v;
}

async function prepareNewNode({ plan, quick, long, progress }: Ctx, node: string): Promise<string> {
  progress(`draining ${node}`);
  const drained = await long.drainNode(plan, node);
  progress(`labelling and tainting ${node}`);
  await quick.labelNode(plan, node, [plan.nodes.masterLabel]);
  await quick.taintNode(plan, node, [plan.nodes.masterTaint, plan.nodes.isolationTaint]);
  await quick.uncordonNode(plan, node);
  return `${drained.summary}; labelled, tainted, uncordoned`;
}

async function etcdJoin({ plan, long, progress }: Ctx, host: string): Promise<string> {
  progress(`etcd member on ${host}: add as learner, start, catch up, promote`);
  try {
    const r = await long.etcdJoinMember(plan, host);
    return r.summary;
  } catch (err) {
    // The join failed for good: never leave a dangling learner behind.
    progress(`join of ${host} failed; removing its learner (compensation)`);
    try {
      await long.etcdAbandonJoin(plan, host);
    } catch (cleanup) {
      const why = (e: unknown) => ((e as Error & { cause?: Error }).cause ?? (e as Error)).message;
      throw new EtcdJoinCleanupFailure(
        `etcd join of ${host} failed (${why(err)}) AND removing its learner failed (${why(cleanup)}): check \`etcdctl member list\` before resuming`,
      );
    }
    throw err;
  }
}

/** A failed (dead) old master: only its etcd member is removed, through the others; nothing runs on it. */
async function etcdRemoveFailed({ plan, long, progress, beforeIrreversible }: Ctx, host: string): Promise<string> {
  await beforeIrreversible(`remove the etcd member of the failed ${host}`);
  progress(`removing the etcd member of the failed old master ${host} (nothing runs on it)`);
  return (await long.etcdRemoveMember(plan, host)).summary;
}

/** Rolling: the old member leaves as soon as a new one joined; its apiserver and LB keep running until decommission. */
async function etcdLeave({ plan, long, progress, beforeIrreversible }: Ctx, host: string): Promise<string> {
  await beforeIrreversible(`remove the etcd member of ${host}`);
  progress(`removing etcd member of ${host} (rolling)`);
  return (await long.etcdRemoveMember(plan, host)).summary;
}

async function certificates({ plan, quick }: Ctx, host: string): Promise<string> {
  // the PKI comes from an old master that is up (a failed one is never touched)
  const source = must(liveOldMasters(plan)[0], 'live old master').name;
  const copied = await quick.copyPki(plan, source, host);
  const cert = await quick.reissueApiserverCert(plan, host);
  return `${copied.summary}; ${cert.summary}`;
}

/** The flag parity sentence of a waitComponentHealthy summary (src/activities/component-parity.ts), for the step summary. */
function parityOf(healthSummary: string, label?: string): string {
  const m = /; (flag parity .*)$/.exec(healthSummary);
  return m ? `; ${label ? `${label} ` : ''}${m[1]}` : '';
}

async function apiserver({ plan, quick, long, progress }: Ctx, host: string): Promise<string> {
  // --etcd-servers comes from the live member list, restricted to new masters.
  const newClientURLs = new Set(plan.newMasters.map((h) => h.etcd.clientURL));
  const live = [...new Set(await quick.etcdClientURLs(plan))].filter((u) => newClientURLs.has(u));
  if (live.length !== plan.newMasters.length) {
    throw new Error(`expected ${plan.newMasters.length} new etcd members in the live member list, found ${live.length}: ${live.join(', ')}`);
  }
  const cfg = await quick.configureApiserver(plan, host, live);
  await quick.startComponent(plan, host, 'apiserver');
  progress(`waiting for kube-apiserver /readyz on ${host}`);
  const ready = await long.waitComponentHealthy(plan, host, 'apiserver');
  return `${cfg.summary}; ready (etcd-servers ${live.join(',')})${parityOf(ready.summary)}`;
}

async function apiserverLb({ plan, quick, long, progress }: Ctx, host: string): Promise<string> {
  const cfg = await quick.configureApiserverLb(plan, host);
  await quick.startComponent(plan, host, 'loadBalancer');
  progress(`verifying the API through ${host}:${plan.loadBalancer.port}`);
  await long.waitComponentHealthy(plan, host, 'loadBalancer');
  return `${cfg.summary}; API answers through the LB`;
}

async function controllerManagerScheduler({ plan, quick, long, progress }: Ctx, host: string): Promise<string> {
  const cfg = await quick.configureControllerManagerScheduler(plan, host);
  await quick.startComponent(plan, host, 'controllerManager');
  await quick.startComponent(plan, host, 'scheduler');
  progress(`waiting for controller-manager and scheduler on ${host}`);
  const cm = await long.waitComponentHealthy(plan, host, 'controllerManager');
  const sched = await long.waitComponentHealthy(plan, host, 'scheduler');
  return `${cfg.summary}; both healthy${parityOf(cm.summary, 'controller-manager')}${parityOf(sched.summary, 'scheduler')}`;
}

async function calico({ plan, quick, long, progress }: Ctx): Promise<string> {
  const newClientURLs = new Set(plan.newMasters.map((h) => h.etcd.clientURL));
  const endpoints = [...new Set(await quick.etcdClientURLs(plan))].filter((u) => newClientURLs.has(u));
  const patched = await quick.patchCalicoEtcdEndpoints(plan, endpoints);
  const token = `${workflowInfo().workflowId}/${workflowInfo().firstExecutionRunId}`;
  const restarted: string[] = [];
  for (const r of plan.calico.restart) {
    progress(`rollout restart ${r.kind}/${r.name}`);
    await long.rolloutRestart(plan, r.kind, r.name, token);
    restarted.push(`${r.kind}/${r.name}`);
  }
  return `${patched.summary}; restarted ${restarted.join(', ') || 'nothing'}`;
}

async function vipFailover({ plan, quick, long, progress, beforeIrreversible }: Ctx): Promise<string> {
  // the kept masters' keepalived stays as it is; failed old masters are never touched
  for (const h of addedMasters(plan)) {
    progress(`keepalived on ${h.name}`);
    await quick.configureKeepalived(plan, h.name);
  }
  if (patched('verify-vip-before-stopping-old')) {
    // the new masters (higher priority) must have taken the VIP, with one holder only,
    // while the old keepalived still run: a split brain shows here, not after the old ones stop
    progress('verifying the new masters took the VIP before stopping the old keepalived');
    await long.verifyVip(plan, 'new');
  }
  await beforeIrreversible('stop keepalived on the old masters');
  const stopOn = plan.keepalived.onOldMasters === false ? [] : leavingMasters(plan);
  for (const h of stopOn) {
    progress(`stopping keepalived on ${h.name}`);
    await quick.stopComponent(plan, h.name, 'keepalived');
  }
  progress('verifying exactly one new master holds the VIP');
  const v = await long.verifyVip(plan, 'new');
  return v.summary;
}

async function decommission({ plan, quick, long, progress, beforeIrreversible }: Ctx, host: string): Promise<string> {
  // controller-manager and scheduler first: an apiserver with their watches open takes ~15 s to stop.
  // patched(): migrations recorded with the old order replay unchanged (test/histories/v1.json).
  const order = patched('stop-apiserver-last')
    ? (['loadBalancer', 'controllerManager', 'scheduler', 'apiserver'] as const)
    : (['loadBalancer', 'apiserver', 'controllerManager', 'scheduler'] as const);
  for (const c of order) {
    progress(`stopping ${c} on ${host}`);
    await quick.stopComponent(plan, host, c);
  }
  // rolling: an early leaver's member already left in its etcd-leave step (a completed step before this one)
  if (earlyLeavers(plan).includes(host)) {
    progress(`fencing ${host}: disable at boot, keepalived config and etcd data dir aside`);
    const f = await quick.fenceOldMaster(plan, host);
    return `old components stopped; its etcd member left in etcd-leave/${host}; ${f.summary}`;
  }
  await beforeIrreversible(`remove the etcd member of ${host}`);
  progress(`removing etcd member of ${host}`);
  const r = await long.etcdRemoveMember(plan, host);
  if (!patched('fence-old-masters')) return `old components stopped; ${r.summary}`;
  // a reboot of the old master must bring back neither keepalived (the VIP) nor its removed etcd member
  progress(`fencing ${host}: disable at boot, keepalived config and etcd data dir aside`);
  const f = await quick.fenceOldMaster(plan, host);
  return `old components stopped; ${r.summary}; ${f.summary}`;
}

async function cleanupLabels({ plan, quick }: Ctx): Promise<string> {
  const labelKey = must(plan.nodes.masterLabel.split('=')[0], 'label key');
  const taintKey = must(plan.nodes.isolationTaint.split(/[=:]/)[0], 'taint key');
  // the Node objects of leaving and failed old masters (API only: nothing runs on a failed host); kept hosts keep theirs
  const kept = new Set(keptMasters(plan).map((h) => h.name));
  const unlabel = plan.oldMasters.filter((h) => !kept.has(h.name));
  const untaint = addedMasters(plan);
  for (const h of unlabel) await quick.labelNode(plan, h.name, [`${labelKey}-`]);
  for (const h of untaint) await quick.taintNode(plan, h.name, [`${taintKey}-`]);
  return `removed ${labelKey} from ${unlabel.length} old masters, taint ${taintKey} from ${untaint.length} new masters`;
}

export async function runAction(ctx: Ctx, step: ActionStep): Promise<string> {
  const { plan, quick } = ctx;
  const host = step.host ? findHost(plan, step.host).name : undefined;
  switch (step.phase) {
    case 'preflight':
      throw new Error('internal: preflight runs in the workflow body');
    case 'client-fixes':
      return applyClientFixes(ctx, ctx.clientFixes ?? []);
    case 'prepare-new-nodes':
      return prepareNewNode(ctx, must(host, 'host'));
    case 'etcd-certs':
      return (await quick.issueEtcdMemberCerts(plan, must(host, 'host'))).summary;
    case 'etcd-snapshot': {
      // a large database takes minutes; the activity heartbeats per chunk streamed
      const s = await ctx.long.etcdSnapshot(plan);
      return `snapshot ${s.path}: ${s.sizeBytes} bytes at revision ${s.revision}`;
    }
    case 'etcd-remove-failed':
      return etcdRemoveFailed(ctx, must(host, 'host'));
    case 'etcd-join':
      return etcdJoin(ctx, must(host, 'host'));
    case 'etcd-leave':
      return etcdLeave(ctx, must(host, 'host'));
    case 'certificates':
      return certificates(ctx, must(host, 'host'));
    case 'apiserver':
      return apiserver(ctx, must(host, 'host'));
    case 'apiserver-lb':
      return apiserverLb(ctx, must(host, 'host'));
    case 'controller-manager-scheduler':
      return controllerManagerScheduler(ctx, must(host, 'host'));
    case 'calico':
      return calico(ctx);
    case 'vip-failover':
      return vipFailover(ctx);
    case 'decommission-old':
      return decommission(ctx, must(host, 'host'));
    case 'etcd-config':
      // it may restart a member and wait for the cluster: the long (heartbeating) profile
      return (await ctx.long.etcdRewriteConfig(plan, must(host, 'host'))).summary;
    case 'cleanup-labels':
      return cleanupLabels(ctx);
    case 'monitoring':
      return (
        await quick.setExporterEndpoints(
          plan,
          plan.newMasters.map((h) => h.address),
        )
      ).summary;
  }
}

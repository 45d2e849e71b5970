/**
 * TEST DOUBLE of the migration activities: records every call (in memory and,
 * optionally, as JSON lines in a journal file) and returns plausible results.
 * Orchestration tests assert on the record; the fleet benchmark
 * (src/bench/fleet.ts) runs many migrations on them; real implementations are
 * tested against real etcd, sshd and kube-apiserver in their own test files.
 */
import { appendFileSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import type { MigrationActivities } from '../activities/contract';
import { describeFix, fixId, type ClientFix } from '../plan/client-fix';
import type { EtcdHealthReport } from '../lib/etcd';
import { digestedEvidence } from '../lib/evidence-digest';
import type { OldMasterRef } from '../lib/old-master-refs';
import type { GateId, Plan } from '../plan/schema';

export interface Call {
  name: string;
  /** args without the plan */
  args: unknown[];
}

export interface RecordingOptions {
  journal?: string;
  /** called before each activity; may wait (heartbeating) or throw */
  before?: (call: Call) => Promise<void> | void;
  /** preflight proposes these client fixes (each a fixable blocker) */
  clientFixes?: ClientFix[];
  /** the pre-decommission inventory's references, per read (1, 2, ...); default none */
  inventory?: (read: number) => OldMasterRef[];
  /** what checkpointEvidence reads, per read (1, 2, ...); default: the old masters' etcd members healthy, the VIP on the first old master */
  evidence?: (read: number, gate: GateId, plan: Plan) => { health?: EtcdHealthReport; holders?: string[] } | undefined;
}

/** The old masters' etcd members, all healthy voters, the first one leading. */
export function healthyOldMembers(plan: Plan): EtcdHealthReport {
  const members = plan.oldMasters.map((h, i) => ({
    id: String(1001 + i),
    name: h.etcd.name,
    peerURLs: [h.etcd.peerURL],
    clientURLs: [h.etcd.clientURL],
    isLearner: false,
    reachable: true,
    raftIndex: '100',
    dbSize: 20480,
  }));
  return { healthy: true, leaderId: members[0]?.id, members, alarms: [], problems: [] };
}

/** The same members with `name`'s unreachable (`error` as etcd health would say it). */
export function withMemberDown(h: EtcdHealthReport, name: string, error: string): EtcdHealthReport {
  return {
    ...h,
    healthy: false,
    members: h.members.map((m) => (m.name === name ? { ...m, reachable: false, error } : m)),
    problems: [`member ${name}: ${error}`],
  };
}

const outcome = (summary: string) => ({ summary, changed: true });

export function recordingActivities(opts: RecordingOptions = {}): {
  activities: MigrationActivities;
  calls: Call[];
  lockCalls: string[];
  inventoryReads: () => number;
  evidenceReads: () => number;
} {
  const calls: Call[] = [];
  let inventoryReads = 0;
  let evidenceReads = 0;
  /** the cluster-lock activities, kept apart so call sequences read like the runbook */
  const lockCalls: string[] = [];
  const record = async (name: string, args: unknown[]): Promise<void> => {
    const call = { name, args };
    let attempt = 1;
    try {
      attempt = Context.current().info.attempt;
    } catch {
      /* not in an activity */
    }
    if (opts.journal) appendFileSync(opts.journal, `${JSON.stringify({ ev: 'start', name, args, attempt, pid: process.pid })}\n`);
    await opts.before?.(call);
    calls.push(call);
    if (opts.journal) appendFileSync(opts.journal, `${JSON.stringify({ ev: 'done', name, args, attempt, pid: process.pid })}\n`);
  };
  const newURLs = (plan: Plan) => plan.newMasters.map((h) => h.etcd.clientURL);
  const activities: MigrationActivities = {
    async clusterLockAcquire() {
      lockCalls.push('acquire');
      return outcome('lock taken');
    },
    async clusterLockKeepAlive() {
      lockCalls.push('keepalive');
      const ctx = Context.current();
      for (;;) {
        ctx.heartbeat();
        await Promise.race([ctx.sleep(500), ctx.cancelled]);
      }
    },
    async clusterLockRelease() {
      lockCalls.push('release');
      return outcome('lock released');
    },
    async clusterLockBreak() {
      lockCalls.push('break');
      return { summary: 'nothing to break' };
    },
    async preflight(_plan, mode) {
      await record('preflight', mode ? [mode] : []);
      const fixes = opts.clientFixes ?? [];
      return {
        blockers: fixes.map((f) => ({
          reason: f.kind === 'kube-proxy' ? 'KubeProxyNotUsingLB' : 'KubeletNotUsingLB',
          subject: fixId(f),
          message: `${fixId(f)} uses ${f.from}`,
          fix: describeFix(f),
          fixable: true,
        })),
        warnings: [],
        checked: ['ssh', 'kubelet', 'kube-proxy', 'fstab', 'etcd'],
        clientFixes: fixes,
        nodes: { checked: 7, fromApi: 1, unverified: [] },
      };
    },
    async applyClientFix(_p, fix) {
      await record('applyClientFix', [fixId(fix)]);
      return outcome(`${fixId(fix)}: ${fix.from} → ${fix.to}`);
    },
    async restartClient(_p, fix) {
      await record('restartClient', [fixId(fix)]);
      return { ...outcome(`${fixId(fix)} restarted`), ...(fix.kind === 'kubelet' ? { heartbeatBefore: '2026-01-01T00:00:00.000Z' } : {}) };
    },
    async waitNodeReady(_p, node) {
      await record('waitNodeReady', [node]);
      return outcome(`Node ${node} Ready`);
    },
    async revertClientFix(_p, fix) {
      await record('revertClientFix', [fixId(fix)]);
      return outcome(`${fixId(fix)} reverted`);
    },
    async drainNode(_p, node) {
      await record('drainNode', [node]);
      return outcome(`drained ${node}: 2 pods evicted`);
    },
    async labelNode(_p, node, changes) {
      await record('labelNode', [node, changes]);
      return outcome(`labels ${changes.join(' ')} on ${node}`);
    },
    async taintNode(_p, node, changes) {
      await record('taintNode', [node, changes]);
      return outcome(`taints ${changes.join(' ')} on ${node}`);
    },
    async uncordonNode(_p, node) {
      await record('uncordonNode', [node]);
      return outcome(`uncordoned ${node}`);
    },
    async patchCalicoEtcdEndpoints(_p, endpoints) {
      await record('patchCalicoEtcdEndpoints', [endpoints]);
      return outcome(`etcd_endpoints=${endpoints.join(',')}`);
    },
    async rolloutRestart(_p, kind, name, token) {
      await record('rolloutRestart', [kind, name, token]);
      return outcome(`restarted ${kind}/${name}`);
    },
    async setExporterEndpoints(_p, addresses) {
      await record('setExporterEndpoints', [addresses]);
      return outcome(`exporter -> ${addresses.join(',')}`);
    },
    async etcdHealth(_p) {
      await record('etcdHealth', []);
      return { healthy: true, members: [], alarms: [], problems: [], leaderId: '1' };
    },
    async etcdSnapshot(plan) {
      await record('etcdSnapshot', []);
      return { path: plan.etcd.snapshotPath, sizeBytes: 4096, revision: '42', sha256: 'f'.repeat(64) };
    },
    async etcdJoinMember(_p, host) {
      await record('etcdJoinMember', [host]);
      return { memberId: '1', name: host, alreadyMember: false, usedLearner: true, members: 4, summary: `joined ${host}` };
    },
    async etcdAbandonJoin(_p, host) {
      await record('etcdAbandonJoin', [host]);
      return { alreadyRemoved: false, leaderMoved: false, members: 3, summary: `removed learner ${host}` };
    },
    async etcdRemoveMember(_p, host) {
      await record('etcdRemoveMember', [host]);
      return { alreadyRemoved: false, leaderMoved: false, members: 5, summary: `removed ${host}` };
    },
    async etcdRewriteConfig(_p, host) {
      await record('etcdRewriteConfig', [host]);
      return outcome(`rewrote etcd config on ${host}`);
    },
    async etcdClientURLs(plan) {
      await record('etcdClientURLs', []);
      return [...new Set([...plan.oldMasters.map((h) => h.etcd.clientURL), ...newURLs(plan)])].sort();
    },
    async copyPki(_p, from, to) {
      await record('copyPki', [from, to]);
      return outcome(`copied pki ${from} -> ${to}`);
    },
    async reissueApiserverCert(_p, host) {
      await record('reissueApiserverCert', [host]);
      return outcome(`reissued apiserver cert on ${host}`);
    },
    async issueEtcdMemberCerts(_p, host) {
      await record('issueEtcdMemberCerts', [host]);
      return outcome(`etcd member certificates for ${host}`);
    },
    async configureApiserver(_p, host, etcdServers) {
      await record('configureApiserver', [host, etcdServers]);
      return outcome(`apiserver config on ${host}`);
    },
    async configureApiserverLb(_p, host) {
      await record('configureApiserverLb', [host]);
      return outcome(`lb config on ${host}`);
    },
    async configureControllerManagerScheduler(_p, host) {
      await record('configureControllerManagerScheduler', [host]);
      return outcome(`cm/scheduler config on ${host}`);
    },
    async startComponent(_p, host, component) {
      await record('startComponent', [host, component]);
      return outcome(`started ${component} on ${host}`);
    },
    async stopComponent(_p, host, component) {
      await record('stopComponent', [host, component]);
      return outcome(`stopped ${component} on ${host}`);
    },
    // read-only, kept apart (like the lock calls) so call sequences read like the runbook
    async inventoryOldMasterRefs() {
      inventoryReads++;
      const refs = opts.inventory?.(inventoryReads) ?? [];
      return { refs, scanned: ['recorded'], unreadable: [], summary: `${refs.length} reference(s) to old masters` };
    },
    async checkpointEvidence(plan, gate, known) {
      evidenceReads++;
      const read = opts.evidence?.(evidenceReads, gate, plan) ?? {};
      const holders = read.holders ?? [plan.oldMasters[0]?.name ?? '?'];
      // a fixed clock: the recorded histories stay byte-stable
      return digestedEvidence({
        gate,
        health: read.health ?? healthyOldMembers(plan),
        vip: { address: plan.loadBalancer.vip, holders, unchecked: [] },
        known,
        at: '2026-01-01T00:00:00.000Z',
      });
    },
    async fenceOldMaster(_p, host) {
      await record('fenceOldMaster', [host]);
      return outcome(`fenced ${host}`);
    },
    async waitComponentHealthy(_p, host, component) {
      await record('waitComponentHealthy', [host, component]);
      return outcome(`${component} healthy on ${host}`);
    },
    async configureKeepalived(_p, host) {
      await record('configureKeepalived', [host]);
      return outcome(`keepalived on ${host}`);
    },
    async verifyVip(plan, side) {
      await record('verifyVip', [side]);
      const holder = (side === 'new' ? plan.newMasters : plan.oldMasters)[0]?.name ?? '?';
      return { holders: [holder], readyzThroughVip: true, summary: `VIP on ${holder}` };
    },
  };
  return { activities, calls, lockCalls, inventoryReads: () => inventoryReads, evidenceReads: () => evidenceReads };
}

/** Result shapes of activities, shared by activities, workflow (type-only) and CLI. */
import type { ClientFix } from '../plan/client-fix';

export type { CommandResult, PushResult } from '../lib/hostops';
export type { EtcdHealthReport, EtcdMemberHealth } from '../lib/etcd';

export interface Blocker {
  /** stable reason name, e.g. EtcdMemberUnhealthy */
  reason: string;
  message: string;
  /** host or object concerned */
  subject?: string;
  /** an explicit, approvable fix, if one exists (never applied silently) */
  fix?: string;
  /** the client-fixes step can apply the fix (PreflightReport.clientFixes), when its checkpoint is enabled */
  fixable?: boolean;
}

/** Which Nodes preflight looked at for their kubelet kubeconfig. */
export interface NodeCoverage {
  /** kubelet kubeconfigs read */
  checked: number;
  /** of those, Nodes the plan does not list (found through the API, reached with defaults.ssh) */
  fromApi: number;
  /** Nodes whose kubelet kubeconfig could not be read, with why */
  unverified: Array<{ node: string; reason: string }>;
}

export interface PreflightReport {
  blockers: Blocker[];
  warnings: Blocker[];
  checked: string[];
  /** exact changes for the blockers marked fixable (src/plan/client-fix.ts) */
  clientFixes?: ClientFix[];
  nodes?: NodeCoverage;
}

export interface SnapshotResult {
  path: string;
  sizeBytes: number;
  revision: string;
  sha256: string;
}

export interface JoinResult {
  memberId: string;
  name: string;
  alreadyMember: boolean;
  usedLearner: boolean;
  members: number;
  summary: string;
  /** the member's config: derived from which live config, what was carried, set and dropped */
  config?: { source: string; carried: string[]; changed: string[]; dropped: string[] };
}

export interface RemoveResult {
  memberId?: string;
  alreadyRemoved: boolean;
  leaderMoved: boolean;
  members: number;
  summary: string;
}

export interface StepOutcome {
  /** one line for status and the Web UI */
  summary: string;
  changed?: boolean;
  details?: Record<string, unknown>;
}

export type ComponentName = 'etcd' | 'apiserver' | 'controllerManager' | 'scheduler' | 'loadBalancer' | 'keepalived';

/** `cpmigrate lock break`: what was broken, and where the audit record is (in the cluster's etcd). */
export interface LockBreakResult {
  summary: string;
  broken?: { workflowId: string; runId: string; cluster: string; takenAt: string };
  recordKey?: string;
}

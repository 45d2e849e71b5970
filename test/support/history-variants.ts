/**
 * The plan variants whose histories are recorded (scripts/record-history.ts)
 * and replayed in CI (test/replay.test.ts): every shape of migration the
 * workflow can be in while a worker is upgraded. Each variant is a plan and a
 * driver that plays the operator (approvals, pause/resume, abort).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { ClientFix } from '../../src/plan/client-fix';
import { planSchema, type GateId, type Plan, type PlanInput } from '../../src/plan/schema';
import { abortSignal, approveUpdate, pauseSignal, resumeSignal, statusQuery, type MigrationInput, type MigrationStatus } from '../../src/shared';
import { healthyOldMembers, withMemberDown, type Call, type RecordingOptions } from './recording-activities';
import { examplePlanInput } from './plans';

const ALL_GATES: GateId[] = ['preflight-ack', 'switch-traffic', 'decommission'];

function finish(input: PlanInput, gates: GateId[]): Plan {
  const cp = (g: GateId) => ({ enabled: gates.includes(g), remindAfter: '30m' });
  return planSchema.parse({
    ...input,
    cluster: 'recorded',
    checkpoints: {
      'preflight-ack': cp('preflight-ack'),
      'switch-traffic': cp('switch-traffic'),
      decommission: cp('decommission'),
      ...(gates.includes('remove-failed') ? { 'remove-failed': cp('remove-failed') } : {}),
    },
    timeouts: { quick: '20s', long: '2m', heartbeat: '10s', maxAttempts: 3 },
    nodes: { ...input.nodes, drainTimeout: '1m' },
  });
}

function kubeadmTlsInput(): PlanInput {
  return JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'examples', 'plan-kubeadm-tls.json'), 'utf8')) as PlanInput;
}

/** examples/plan.yaml with every component run as a static pod (plain http etcd). */
function staticPodInput(): PlanInput {
  const input = examplePlanInput() as unknown as Record<string, Record<string, unknown>>;
  const pod = (name: string) => ({ service: { type: 'staticPod', manifest: `/etc/kubernetes/manifests/${name}.yaml` } });
  for (const c of ['etcd', 'apiserver', 'controllerManager', 'scheduler', 'loadBalancer', 'keepalived']) {
    input[c] = { ...input[c], ...pod(c) };
  }
  return input as unknown as PlanInput;
}

type Host = PlanInput['oldMasters'][number];

/** examples/plan.yaml's host entry renamed and readdressed (10.200.20.LAST) */
function hostLike(h: Host, name: string, last: number): Host {
  const a = `10.200.20.${last}`;
  return { ...h, name, address: a, etcd: { name, clientURL: `http://${a}:2379`, peerURL: `http://${a}:2380` } };
}

/** examples/plan.yaml reshaped: n old masters → m new ones (extra hosts derived from the first of each side) */
export function shapedInput(n: number, m: number, extra: Partial<PlanInput> = {}): PlanInput {
  const input = examplePlanInput();
  const [o, nw] = [input.oldMasters[0] as Host, input.newMasters[0] as Host];
  return {
    ...input,
    oldMasters: Array.from({ length: n }, (_, i) => input.oldMasters[i] ?? hostLike(o, `oldmaster-${i + 1}`, 11 + i)),
    newMasters: Array.from({ length: m }, (_, i) => input.newMasters[i] ?? hostLike(nw, `master-${i + 1}`, 101 + i)),
    ...extra,
  };
}

/** the fault the issue names: oldmaster-3 is dead, replaced by master-1, oldmaster-1 and -2 kept */
export function replaceFailedInput(): PlanInput {
  const input = examplePlanInput();
  const [o1, o2, o3] = input.oldMasters as [Host, Host, Host];
  return { ...input, oldMasters: [o1, o2, { ...o3, state: 'failed' }], newMasters: [o1, o2, input.newMasters[0] as Host] };
}

type Handle = WorkflowHandle;

async function waitFor(handle: Handle, pred: (s: MigrationStatus) => boolean, what: string): Promise<MigrationStatus> {
  let last: MigrationStatus | undefined;
  for (let i = 0; i < 300; i++) {
    last = await handle.query(statusQuery);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

const atGate = (handle: Handle, gate: GateId) => waitFor(handle, (s) => s.pendingCheckpoint?.gate === gate, `checkpoint ${gate}`);

async function approve(handle: Handle, gate: GateId): Promise<void> {
  await atGate(handle, gate);
  await handle.executeUpdate(approveUpdate, { args: [{ gate, by: 'recorder', reason: 'recorded history' }] });
}

async function approveAll(handle: Handle, gates: GateId[], pauseAt?: GateId): Promise<void> {
  for (const gate of gates) {
    if (gate === pauseAt) {
      await atGate(handle, gate);
      await handle.signal(pauseSignal, { by: 'recorder' });
      await handle.signal(resumeSignal, { by: 'recorder' });
    }
    await approve(handle, gate);
  }
}

export interface HistoryVariant {
  name: string;
  what: string;
  input(): MigrationInput;
  /** plays the operator; resolves when the workflow has been driven to its end */
  drive(handle: Handle): Promise<void>;
  /** fail an activity call (non-retryably) to put the migration on hold */
  failOnce?: (call: Call) => boolean;
  /** the workflow ends failed (aborted) */
  expectFailure?: boolean;
  /** preflight proposes these client fixes (recordingActivities' clientFixes) */
  clientFixes?: ClientFix[];
  /** what checkpointEvidence reads (recordingActivities' evidence), made fresh for each recording */
  evidence?: () => RecordingOptions['evidence'];
}

const LB = 'https://10.200.20.241:443';
const RECORDED_FIXES: ClientFix[] = [
  {
    kind: 'kubelet',
    node: 'worker-2',
    address: '10.200.20.32',
    planHost: false,
    file: '/etc/kubernetes/kubelet.conf',
    from: 'https://10.200.20.11:8686',
    to: LB,
  },
  {
    kind: 'kube-proxy',
    namespace: 'kube-system',
    configMap: 'kube-proxy',
    key: 'kubeconfig.conf',
    daemonSet: 'kube-proxy',
    from: 'https://10.200.20.11:8686',
    to: LB,
  },
];

export const HISTORY_VARIANTS: HistoryVariant[] = [
  {
    name: 'plain-http',
    what: 'examples/plan.yaml (systemd, plain http etcd), every checkpoint approved, pause/resume at switch-traffic',
    input: () => ({ plan: finish(examplePlanInput(), ALL_GATES) }),
    drive: (h) => approveAll(h, ALL_GATES, 'switch-traffic'),
  },
  {
    name: 'etcd-tls',
    what: 'examples/plan-kubeadm-tls.json (static pods, etcd over TLS: the etcd-certs step), every checkpoint approved',
    input: () => ({ plan: finish(kubeadmTlsInput(), ALL_GATES) }),
    drive: (h) => approveAll(h, ALL_GATES),
  },
  {
    name: 'static-pods',
    what: 'examples/plan.yaml with every component as a static pod (plain http etcd), every checkpoint approved',
    input: () => ({ plan: finish(staticPodInput(), ALL_GATES) }),
    drive: (h) => approveAll(h, ALL_GATES),
  },
  {
    name: 'client-fixes',
    what: 'examples/plan.yaml with the client-fixes checkpoint on: a kubelet and kube-proxy fixed after its approval, then every checkpoint approved',
    input: () => {
      const plan = finish(examplePlanInput(), ALL_GATES);
      return { plan: { ...plan, checkpoints: { ...plan.checkpoints, 'client-fixes': { enabled: true, remindAfter: '30m' } } } };
    },
    drive: (h) => approveAll(h, ['client-fixes', ...ALL_GATES]),
    clientFixes: RECORDED_FIXES,
  },
  {
    name: 'checkpoints-off',
    what: 'examples/plan.yaml with every checkpoint disabled: runs straight through',
    input: () => ({ plan: finish(examplePlanInput(), []) }),
    drive: async () => undefined,
  },
  {
    name: 'rolled-back',
    what: 'abort --rollback at switch-traffic: calico, controller-manager/scheduler, LBs, apiservers and etcd joins undone newest first',
    input: () => ({ plan: finish(examplePlanInput(), ALL_GATES) }),
    drive: async (h) => {
      await approve(h, 'preflight-ack');
      await atGate(h, 'switch-traffic');
      await h.signal(abortSignal, { reason: 'recorded rollback', by: 'recorder', rollback: true });
    },
    expectFailure: true,
  },
  {
    name: 'resumed',
    what: 'start --resume (features.resume): resume-mode preflight, every step re-run forward, checkpoints approved',
    input: () => ({ plan: finish(examplePlanInput(), ALL_GATES), features: { resume: true } }),
    drive: (h) => approveAll(h, ALL_GATES),
  },
  {
    name: 'rolling',
    what: '3 → 3 with strategy rolling: one in, one out (decommission checkpoint before the first etcd-leave), every checkpoint approved',
    input: () => ({ plan: finish({ ...examplePlanInput(), strategy: 'rolling' }, ALL_GATES) }),
    drive: (h) => approveAll(h, ['preflight-ack', 'decommission', 'switch-traffic']),
  },
  {
    name: 'replace-failed',
    what: 'oldmaster-3 marked failed, replaced by master-1, oldmaster-1/2 kept: its member removed first behind remove-failed, nothing run on it',
    input: () => ({ plan: finish(replaceFailedInput(), ['preflight-ack', 'remove-failed', 'switch-traffic', 'decommission']) }),
    drive: (h) => approveAll(h, ['preflight-ack', 'remove-failed', 'switch-traffic']),
  },
  {
    name: 'one-to-three',
    what: '1 → 3 (grow-then-shrink), checkpoints off',
    input: () => ({ plan: finish(shapedInput(1, 3), []) }),
    drive: async () => undefined,
  },
  {
    name: 'five-to-three',
    what: '5 → 3 with acceptToleranceDrop (rolling), checkpoints off',
    input: () => ({ plan: finish(shapedInput(5, 3, { strategy: 'rolling', acceptToleranceDrop: true }), []) }),
    drive: async () => undefined,
  },
  {
    name: 'evidence-held',
    what: 'every checkpoint approved; an etcd member goes down between the switch-traffic approval and acting: held with the difference, approved again (switch-traffic has expiresAfter: 1h)',
    input: () => {
      const plan = finish(examplePlanInput(), ALL_GATES);
      return { plan: { ...plan, checkpoints: { ...plan.checkpoints, 'switch-traffic': { enabled: true, remindAfter: '30m', expiresAfter: '1h' } } } };
    },
    evidence: () => {
      const reads = new Map<string, number>();
      return (_n, gate, plan) => {
        const k = (reads.get(gate) ?? 0) + 1;
        reads.set(gate, k);
        return gate === 'switch-traffic' && k >= 2
          ? { health: withMemberDown(healthyOldMembers(plan), 'oldmaster-2', 'connect ECONNREFUSED 10.200.20.12:2379') }
          : undefined;
      };
    },
    drive: async (h) => {
      await approve(h, 'preflight-ack');
      await approve(h, 'switch-traffic');
      await waitFor(
        h,
        (s) => s.pendingCheckpoint?.gate === 'switch-traffic' && s.pendingCheckpoint.reapproval !== undefined,
        'switch-traffic held for its evidence',
      );
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'recorder', reason: 'approved again' }] });
      await approve(h, 'decommission');
    },
  },
  {
    name: 'step-held',
    what: 'etcd join of master-2 fails for good: learner removed, migration held, resume retries it',
    input: () => ({ plan: finish(examplePlanInput(), []) }),
    failOnce: (c) => c.name === 'etcdJoinMember' && c.args[0] === 'master-2',
    drive: async (h) => {
      await waitFor(h, (s) => s.state === 'blocked', 'the held step');
      await h.signal(resumeSignal, { by: 'recorder' });
    },
  },
];

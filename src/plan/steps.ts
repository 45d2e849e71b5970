/**
 * The runbook as an ordered list of steps, derived from the plan. This is the
 * single source for both the workflow (which runs them in this order) and
 * `cpmigrate plan show` (which prints them). Pure: safe in workflow code.
 */
import { addedMasters, keptMasters, leavingMasters, liveOldMasters, shapeOf } from './hosts';
import type { GateId, Plan } from './schema';
import { projectShape, type MemberCount, type ShapeProjection } from './shape';

export type Phase =
  | 'preflight'
  | 'client-fixes'
  | 'prepare-new-nodes'
  | 'etcd-certs'
  | 'etcd-snapshot'
  | 'etcd-remove-failed'
  | 'etcd-join'
  | 'etcd-leave'
  | 'certificates'
  | 'apiserver'
  | 'apiserver-lb'
  | 'controller-manager-scheduler'
  | 'calico'
  | 'vip-failover'
  | 'decommission-old'
  | 'etcd-config'
  | 'cleanup-labels'
  | 'monitoring';

export interface ActionStep {
  kind: 'action';
  /** unique and stable: phase or phase/host */
  key: string;
  phase: Phase;
  host?: string;
  title: string;
  /** what the step does, one line each, for plan show and the Web UI */
  does: string[];
  /** after this step completes, abort can no longer roll back: only forward */
  pointOfNoReturn?: boolean;
  /** etcd voting members after this step (membership steps only) */
  etcdMembersAfter?: string[];
  /** the planner's projection after this step (membership steps only): quorum, tolerated failures */
  etcdAfter?: MemberCount & { belowStart: boolean };
}

export interface CheckpointStep {
  kind: 'checkpoint';
  key: string;
  gate: GateId;
  title: string;
  does: string[];
}

export type Step = ActionStep | CheckpointStep;

/** A checkpoint's settings; remove-failed (added later) defaults to on. */
export function checkpointOf(plan: Plan, id: GateId): { enabled: boolean; remindAfter: string } {
  return plan.checkpoints[id] ?? { enabled: true, remindAfter: '30m' };
}

function perHost(hosts: Plan['newMasters'], phase: Phase, title: (h: string) => string, does: (h: Plan['newMasters'][number]) => string[]): ActionStep[] {
  return hosts.map((h) => ({ kind: 'action', key: `${phase}/${h.name}`, phase, host: h.name, title: title(h.name), does: does(h) }));
}

function gate(plan: Plan, id: GateId, title: string, does: string[]): CheckpointStep[] {
  return checkpointOf(plan, id).enabled ? [{ kind: 'checkpoint', key: `checkpoint/${id}`, gate: id, title, does }] : [];
}

/** The plan's membership projection (src/plan/shape.ts). */
export function shapeProjection(plan: Plan): ShapeProjection {
  return projectShape(shapeOf(plan));
}

/**
 * Rolling: the old members that leave as soon as a new one joined (etcd-leave steps, before the
 * VIP switch) — every removal the planner puts before its last join. The removals after the last
 * join wait for decommission (after the switch), as in grow-then-shrink: until the VIP moves, the
 * old apiservers need an old etcd member in their --etcd-servers. Same membership order either way.
 */
export function earlyLeavers(plan: Plan): string[] {
  const shape = shapeProjection(plan);
  if (shape.strategy !== 'rolling') return [];
  const lastAdd = shape.steps.map((p) => p.op).lastIndexOf('add');
  return shape.steps.filter((p, i) => p.op === 'remove' && i < lastAdd).map((p) => p.host);
}

/** The client-fixes checkpoint and step (only when the plan enables that gate). */
function clientFixSteps(plan: Plan, lb: string): Step[] {
  return [
    {
      kind: 'checkpoint',
      key: 'checkpoint/client-fixes',
      gate: 'client-fixes',
      title: 'Checkpoint: apply the client fixes preflight proposed',
      does: [`an operator approves the exact changes preflight listed (passes by itself when every client already uses ${lb})`],
    },
    {
      kind: 'action',
      key: 'client-fixes',
      phase: 'client-fixes',
      title: 'Point every client at the LB',
      does: [
        `kube-proxy: ConfigMap ${plan.clients.kubeProxy.namespace}/${plan.clients.kubeProxy.configMap} server → ${lb}, rollout restart DaemonSet ${plan.clients.kubeProxy.daemonSet}`,
        `each kubelet that does not use ${lb}, one node at a time: ${plan.paths.kubeletKubeconfig} rewritten atomically (backup kept, mode and owner kept), kubelet restarted, its Node Ready again before the next`,
        `controller-manager / scheduler kubeconfigs on the old masters → the local apiserver, component restarted and healthy`,
      ],
    },
  ];
}

/** How many nodes preflight checks the kubelet kubeconfig of, as plan show / validate say it. */
export function kubeletCoverage(plan: Plan): string {
  const listed = plan.oldMasters.length + plan.newMasters.length + plan.workerNodes.length;
  return plan.clients.nodes === 'all'
    ? `${listed} hosts of the plan + every other Node the API lists (reached at its InternalIP with defaults.ssh)`
    : `the ${listed} hosts of the plan only (clients.nodes: plan)`;
}

/** etcd over TLS: the new members need their own certificates (the etcd-certs step). */
export function etcdUsesTls(plan: Plan): boolean {
  return plan.newMasters.some((h) => h.etcd.clientURL.startsWith('https:') || h.etcd.peerURL.startsWith('https:'));
}

export interface StepOptions {
  /** include the etcd-certs step for TLS plans (false only for workflows started before it existed) */
  etcdCerts?: boolean;
  /** include the client-fixes checkpoint and step (default: the plan's checkpoints.client-fixes.enabled; the workflow gates it with patched()) */
  clientFixes?: boolean;
}

export function migrationSteps(plan: Plan, opts: StepOptions = {}): Step[] {
  const clientFixes = opts.clientFixes ?? plan.checkpoints['client-fixes'].enabled;
  const shape = shapeProjection(plan);
  const oldNames = plan.oldMasters.map((h) => h.name);
  const added = addedMasters(plan);
  const addedNames = added.map((h) => h.name);
  const kept = keptMasters(plan).map((h) => h.name);
  const leaving = leavingMasters(plan);
  const leavingNames = leaving.map((h) => h.name);
  const pkiSource = liveOldMasters(plan)[0]?.name ?? '?';
  const vip = `${plan.loadBalancer.vip}:${plan.loadBalancer.port}`;
  const keepalivedOld = plan.keepalived.onOldMasters !== false;
  const byHost = new Map(plan.oldMasters.concat(plan.newMasters).map((h) => [h.name, h]));
  const after = (i: number): Pick<ActionStep, 'etcdMembersAfter' | 'etcdAfter'> => {
    const p = shape.steps[i];
    return p
      ? {
          etcdMembersAfter: [...p.members],
          etcdAfter: { members: [...p.members], voters: p.voters, quorum: p.quorum, tolerates: p.tolerates, belowStart: p.belowStart },
        }
      : {};
  };
  const early = new Set(earlyLeavers(plan));
  let firstRemoval = true;
  const membership = (op: 'remove-failed' | 'add' | 'remove', gtsDecommission: boolean): Step[] =>
    shape.steps.flatMap((p, i): Step[] => {
      const wanted =
        op === 'add' ? p.op === 'add' || (p.op === 'remove' && early.has(p.host)) : op === 'remove' ? p.op === 'remove' && !early.has(p.host) : p.op === op;
      if (!wanted) return [];
      const h = byHost.get(p.host);
      if (!h) return [];
      if (p.op === 'remove-failed') {
        return [
          ...gate(plan, 'remove-failed', `Checkpoint: remove the failed old master ${h.name} from etcd`, [
            `an operator confirms ${h.name} is dead (powered off); none of its services are touched`,
          ]),
          {
            kind: 'action',
            key: `etcd-remove-failed/${h.name}`,
            phase: 'etcd-remove-failed',
            host: h.name,
            title: `Remove the failed old master ${h.name}'s etcd member`,
            does: [`member remove ${h.etcd.name} (quorum projection first; the dead member is not counted healthy); nothing is run on ${h.name}`],
            ...after(i),
          },
        ];
      }
      if (p.op === 'add') {
        return [
          {
            kind: 'action',
            key: `etcd-join/${h.name}`,
            phase: 'etcd-join',
            host: h.name,
            title: `Join etcd member ${h.etcd.name} on ${h.name}`,
            does: [
              ...plan.etcd.prepareDataDir.map((c) => `run on ${h.name}: ${c}`),
              `member add ${h.etcd.name} ${h.etcd.peerURL} as a learner`,
              `write ${plan.paths.etcdConfig} (initial-cluster-state=existing, initial-cluster from the live member list)`,
              `start etcd, wait until caught up, promote to voter, wait healthy`,
            ],
            ...after(i),
          },
        ];
      }
      // remove: in grow-then-shrink the whole decommission of the host; in rolling its etcd member only (decommission comes after the VIP switch)
      const ponr = firstRemoval;
      firstRemoval = false;
      const leave: ActionStep = gtsDecommission
        ? {
            kind: 'action',
            key: `decommission-old/${h.name}`,
            phase: 'decommission-old',
            host: h.name,
            title: `Decommission ${h.name}`,
            does: [
              `stop apiserver-nginx-lb, controller-manager, scheduler and kube-apiserver on ${h.name}`,
              `move etcd leadership off ${h.etcd.name} if it leads; member remove ${h.etcd.name}; wait healthy`,
            ],
            pointOfNoReturn: ponr,
            ...after(i),
          }
        : {
            kind: 'action',
            key: `etcd-leave/${h.name}`,
            phase: 'etcd-leave',
            host: h.name,
            title: `Remove etcd member ${h.etcd.name} of ${h.name} (rolling: one in, one out)`,
            does: [
              `move etcd leadership off ${h.etcd.name} if it leads; member remove ${h.etcd.name}; stop etcd on ${h.name}; wait healthy (its other components keep running until decommission)`,
            ],
            pointOfNoReturn: ponr,
            ...after(i),
          };
      const checkpoint = !ponr
        ? []
        : gtsDecommission
          ? gate(plan, 'decommission', 'Checkpoint: decommission the old control plane', [
              `an operator approves removing the old masters (after this, only forward)`,
            ])
          : gate(plan, 'decommission', 'Checkpoint: remove the first old etcd member (rolling)', [
              `an operator approves removing old etcd members one at a time as new ones join (after this, only forward)`,
            ]);
      return [...checkpoint, leave];
    });

  const steps: Step[] = [
    {
      kind: 'action',
      key: 'preflight',
      phase: 'preflight',
      title: 'Preflight checks (read-only)',
      does: [
        `SSH to every master with the pinned host key${shape.failed.length ? ` (not to ${shape.failed.join(', ')}: marked failed)` : ''}`,
        `kubelet kubeconfigs (${plan.paths.kubeletKubeconfig}) on ${kubeletCoverage(plan)} point at the LB ${vip}; unreachable Nodes listed as unverified`,
        `the kube-proxy ConfigMap points at the LB ${vip}`,
        `controller-manager and scheduler kubeconfigs point at the local apiserver`,
        `${plan.paths.fstab} on the new masters is valid`,
        `etcd healthy: every member started and reachable, one leader, no alarms, no learner${shape.failed.length ? ` (the failed ${shape.failed.join(', ')} excepted)` : ''}`,
        `new masters ${plan.newMasters.map((h) => h.name).join(', ')} are registered Nodes`,
      ],
    },
    ...(clientFixes ? clientFixSteps(plan, `https://${vip}`) : []),
    ...gate(plan, 'preflight-ack', 'Checkpoint: preflight reviewed; users’ kubeconfigs use the LB address', [
      `an operator confirms every user kubeconfig uses https://${vip}`,
      ...plan.clients.userKubeconfigs.map((k) => `user kubeconfig to confirm: ${k}`),
    ]),
    ...perHost(
      added,
      'prepare-new-nodes',
      (h) => `Drain, label and taint ${h}`,
      (h) => [
        `drain ${h.name} (ignore DaemonSets, force unmanaged pods, honour PodDisruptionBudgets)`,
        `label ${plan.nodes.masterLabel}`,
        `taint ${plan.nodes.masterTaint} and ${plan.nodes.isolationTaint}`,
        `uncordon ${h.name}`,
      ],
    ),
    ...(etcdUsesTls(plan) && opts.etcdCerts !== false
      ? perHost(
          added,
          'etcd-certs',
          (h) => `etcd member certificates for ${h}`,
          (h) => [
            `issue ${plan.paths.pkiDir}/etcd/server.{crt,key} and peer.{crt,key} for ${h.name} (SANs ${h.name}, ${h.address}, localhost, 127.0.0.1) with the etcd CA of an old master; copy etcd/ca.crt (never ca.key)`,
          ],
        )
      : []),
    {
      kind: 'action',
      key: 'etcd-snapshot',
      phase: 'etcd-snapshot',
      title: 'Snapshot etcd before the first membership change',
      does: [`etcd snapshot to ${plan.etcd.snapshotPath} on the worker (size, revision, sha256 recorded)`],
    },
    ...membership('remove-failed', false),
    ...membership('add', false),
    ...perHost(
      added,
      'certificates',
      (h) => `Certificates on ${h}`,
      (h) => [
        `copy ${plan.paths.pkiDir} from ${pkiSource} to ${h.name} (modes preserved)`,
        `re-issue apiserver.crt with SANs + ${plan.newMasters.map((x) => x.name).join(', ')} addresses and ${plan.loadBalancer.vip}, signed by the cluster CA, new key`,
      ],
    ),
    ...perHost(
      added,
      'apiserver',
      (h) => `kube-apiserver on ${h}`,
      (h) => [
        `write ${plan.paths.apiserverConfig} with --etcd-servers = the new etcd members (from the live member list)${plan.apiserver.apiserverCount ? `, --apiserver-count=${plan.apiserver.apiserverCount}` : ''}, --advertise-address=${h.address}`,
        `start kube-apiserver, wait for /readyz`,
      ],
    ),
    ...perHost(
      added,
      'apiserver-lb',
      (h) => `apiserver-nginx-lb on ${h}`,
      (h) => [
        `write ${plan.paths.nginxConfig}: upstream ${plan.loadBalancer.upstreamName} = the new apiservers`,
        `start the LB, verify the API answers through ${h.address}:${plan.loadBalancer.port}`,
      ],
    ),
    ...perHost(
      added,
      'controller-manager-scheduler',
      (h) => `controller-manager and scheduler on ${h}`,
      (h) => [
        `copy and adapt ${plan.paths.controllerManagerKubeconfig}, ${plan.paths.schedulerKubeconfig} and their configs for ${h.name}`,
        `start kube-controller-manager and kube-scheduler, wait until healthy`,
      ],
    ),
    {
      kind: 'action',
      key: 'calico',
      phase: 'calico',
      title: 'Point calico at the new etcd members',
      does: [
        `set ${plan.calico.namespace}/${plan.calico.configMap} etcd_endpoints to the new members (from the live member list)`,
        ...plan.calico.restart.map((r) => `rollout restart ${r.kind}/${r.name} and wait for it`),
      ],
    },
    ...gate(plan, 'switch-traffic', 'Checkpoint: switch API traffic to the new masters', [`an operator approves moving the VIP ${plan.loadBalancer.vip}`]),
    {
      kind: 'action',
      key: 'vip-failover',
      phase: 'vip-failover',
      title: `Move the VIP ${plan.loadBalancer.vip} to the new masters`,
      does: [
        ...(addedNames.length
          ? [
              `write ${plan.paths.keepalivedConfig} on ${addedNames.join(', ')} (virtual_router_id ${plan.keepalived.virtualRouterId}, peers: ${keepalivedPeersDoc(plan)}) and start keepalived`,
            ]
          : []),
        ...(kept.length ? [`keepalived on the kept ${kept.join(', ')} left as it is`] : []),
        keepalivedOld
          ? leavingNames.length
            ? `stop keepalived on ${leavingNames.join(', ')}`
            : 'no old master leaves: keepalived is stopped nowhere'
          : `the old master runs no keepalived (keepalived.onOldMasters: false): only the new side is configured`,
        `verify exactly one new master holds the VIP and /readyz answers through it`,
      ],
    },
    // rolling's early leavers: their member already left in etcd-leave; here only their services stop
    ...leaving
      .filter((h) => early.has(h.name))
      .map((h): ActionStep => ({
        kind: 'action',
        key: `decommission-old/${h.name}`,
        phase: 'decommission-old',
        host: h.name,
        title: `Decommission ${h.name}`,
        does: [
          `stop apiserver-nginx-lb, controller-manager, scheduler and kube-apiserver on ${h.name}`,
          `its etcd member left in etcd-leave/${h.name}; fence it`,
        ],
      })),
    // every other leaving master: the whole decommission, its member removed in the planner's order
    // (the decommission checkpoint comes before the first removal, wherever that is)
    ...membership('remove', true),
    ...perHost(
      added,
      'etcd-config',
      (h) => `etcd config on ${h} without old members`,
      () => [`rewrite ${plan.paths.etcdConfig}: initial-cluster lists only the new members`],
    ),
    {
      kind: 'action',
      key: 'cleanup-labels',
      phase: 'cleanup-labels',
      title: 'Labels and taints as the runbook ends',
      does: [
        `remove ${plan.nodes.masterLabel.split('=')[0] ?? ''} from ${oldNames.filter((n) => !kept.includes(n)).join(', ') || 'no host (every old master is kept)'}`,
        `remove taint ${plan.nodes.isolationTaint.split(/[=:]/)[0] ?? ''} from ${addedNames.join(', ') || 'no host'}`,
      ],
    },
    {
      kind: 'action',
      key: 'monitoring',
      phase: 'monitoring',
      title: 'Monitoring points at the new masters',
      does: [`replace ${plan.monitoring.namespace}/${plan.monitoring.endpoints} Endpoints addresses with ${plan.newMasters.map((h) => h.address).join(', ')}`],
    },
  ];
  return steps;
}

/** The keepalived peer set of the new side, as plan show says it (src/activities/vip.ts derives the same from the shape). */
function keepalivedPeersDoc(plan: Plan): string {
  return plan.keepalived.onOldMasters === false ? 'the new masters' : 'the reachable old masters and the new ones (multicast if the old side uses multicast)';
}

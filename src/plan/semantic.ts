/** Cross-field rules that a schema cannot express. Pure: returns every issue found. */
import { durationMs } from './duration';
import { urlHost } from './hosts';
import type { Plan } from './schema';
import type { PlanIssue } from './issues';
import { projectShape } from './shape';
import { shapeOf } from './hosts';

const LABEL = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?=[A-Za-z0-9]?([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const TAINT =
  /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?(=[A-Za-z0-9]?([-A-Za-z0-9_.]*[A-Za-z0-9])?)?:(NoSchedule|PreferNoSchedule|NoExecute)$/;
const SAN = /^(\d{1,3}(\.\d{1,3}){3}|[a-z0-9*]([-a-z0-9.]*[a-z0-9])?|[0-9a-fA-F:]+:[0-9a-fA-F:]*)$/;

/** Problems that would otherwise only show mid-migration (after etcd already grew). */
function runtimeIssues(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = [];
  if (!LABEL.test(plan.nodes.masterLabel))
    issues.push({
      path: 'nodes.masterLabel',
      message: `"${plan.nodes.masterLabel}" is not a label key=value`,
      hint: 'e.g. node-role.kubernetes.io/master=true',
    });
  for (const f of ['masterTaint', 'isolationTaint'] as const) {
    if (!TAINT.test(plan.nodes[f]))
      issues.push({ path: `nodes.${f}`, message: `"${plan.nodes[f]}" is not a taint key[=value]:Effect`, hint: 'e.g. test-only=true:NoSchedule' });
  }
  plan.apiserver.extraSANs.forEach((san, i) => {
    if (!SAN.test(san)) issues.push({ path: `apiserver.extraSANs[${i}]`, message: `"${san}" is neither an IP address nor a DNS name` });
  });
  const t = plan.timeouts;
  const ms = { quick: durationMs(t.quick), long: durationMs(t.long), heartbeat: durationMs(t.heartbeat), drain: durationMs(plan.nodes.drainTimeout) };
  if (ms.quick < 10_000)
    issues.push({ path: 'timeouts.quick', message: `${t.quick} is too short for an SSH round trip and a config push`, hint: 'at least 10s' });
  if (ms.heartbeat < 1_000 || ms.heartbeat >= ms.long)
    issues.push({ path: 'timeouts.heartbeat', message: `${t.heartbeat} must be at least 1s and shorter than timeouts.long (${t.long})` });
  if (ms.drain > ms.long)
    issues.push({
      path: 'nodes.drainTimeout',
      message: `${plan.nodes.drainTimeout} is longer than timeouts.long (${t.long}): the drain would be cut off`,
      hint: 'raise timeouts.long or lower the drain timeout',
    });
  for (const [g, c] of Object.entries(plan.checkpoints)) {
    if (durationMs(c.remindAfter) < 1_000) issues.push({ path: `checkpoints.${g}.remindAfter`, message: 'must be at least 1s' });
    if (c.expiresAfter !== undefined && durationMs(c.expiresAfter) < 1_000)
      issues.push({ path: `checkpoints.${g}.expiresAfter`, message: 'must be at least 1s' });
  }
  return issues;
}

/** Not errors, but an SRE should read them before starting. */
export function planWarnings(plan: Plan): PlanIssue[] {
  const out: PlanIssue[] = [];
  for (const g of ['switch-traffic', 'decommission'] as const) {
    if (!plan.checkpoints[g].enabled) {
      out.push({
        path: `checkpoints.${g}.enabled`,
        message: `the "${g}" checkpoint is off: ${g === 'switch-traffic' ? 'the VIP moves' : 'old etcd members are removed (point of no return)'} without a human approving it`,
      });
    }
  }
  out.push(...projectShape(shapeOf(plan)).warnings);
  if (plan.keepalived.onOldMasters === false)
    out.push({
      path: 'keepalived.onOldMasters',
      message: 'the old master runs no keepalived: the VIP step configures keepalived on the new masters only, and they take the VIP address',
    });
  if (!plan.etcd.prepareDataDir.length)
    out.push({
      path: 'etcd.prepareDataDir',
      message: 'no data-dir preparation on the new masters: etcd writes to the root disk',
      hint: 'the runbook mounts a dedicated disk at /var/lib/etcd',
    });
  return out;
}

/** The first release's rule, for workflows started before any shape was accepted: exactly 3 → 3. */
function runbookShapeIssues(plan: Plan): PlanIssue[] {
  return (['oldMasters', 'newMasters'] as const)
    .filter((side) => plan[side].length !== 3)
    .map((side) => ({
      path: side,
      message: `expected exactly 3 hosts, got ${plan[side].length}`,
      hint: 'the migration replaces a 3-member control plane with 3 new masters',
    }));
}

/** The shape's refusals (counts, failed masters, even size, tolerance drop) and a shared host's two entries agreeing. */
function shapeIssues(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = projectShape(shapeOf(plan)).problems.map((p) => ({ ...p }));
  plan.newMasters.forEach((h, i) => {
    if (h.state !== undefined)
      issues.push({
        path: `newMasters[${i}].state`,
        message: 'only an old master can be marked (failed or active)',
        hint: 'remove state here; mark the dead host in oldMasters',
      });
    const o = plan.oldMasters.find((x) => x.name === h.name);
    if (!o) return;
    for (const [field, a, b] of [
      ['address', o.address, h.address],
      ['etcd.name', o.etcd.name, h.etcd.name],
      ['etcd.peerURL', o.etcd.peerURL, h.etcd.peerURL],
      ['etcd.clientURL', o.etcd.clientURL, h.etcd.clientURL],
    ] as const) {
      if (a !== b)
        issues.push({
          path: `newMasters[${i}].${field}`,
          message: `${h.name} is kept (also in oldMasters) but its ${field} differs: "${b}" here, "${a}" there`,
          hint: 'a kept host is the same host: give both entries the same address and etcd member',
        });
    }
  });
  if (plan.keepalived.onOldMasters === false && plan.oldMasters.length !== 1) {
    issues.push({
      path: 'keepalived.onOldMasters',
      message: `false is for a single old master behind a separate LB/VIP address; this plan has ${plan.oldMasters.length} old masters`,
      hint: 'old masters that share the VIP run keepalived: remove the field',
    });
  }
  return issues;
}

/**
 * @param opts.runtimeChecks the checks added after the first release (label/taint/SAN syntax,
 *   timeouts); the workflow turns them on with patched() so recorded histories still replay.
 */
export function semanticIssues(plan: Plan, opts: { runtimeChecks?: boolean; anyShape?: boolean } = {}): PlanIssue[] {
  const issues: PlanIssue[] = opts.anyShape === false ? runbookShapeIssues(plan) : shapeIssues(plan);

  // a host in both lists (kept) is checked once, as the old master it is
  const all = [
    ...plan.oldMasters.map((h, i) => ({ h, path: `oldMasters[${i}]` })),
    ...plan.newMasters.map((h, i) => ({ h, path: `newMasters[${i}]` })).filter(({ h }) => !plan.oldMasters.some((o) => o.name === h.name)),
  ];
  const seenName = new Map<string, string>();
  const seenAddr = new Map<string, string>();
  const seenMember = new Map<string, string>();
  for (const { h, path } of all) {
    const prevName = seenName.get(h.name);
    if (prevName)
      issues.push({
        path: `${path}.name`,
        message: `duplicate host name "${h.name}" (also ${prevName})`,
        hint: 'list a host once per side; a host in both oldMasters and newMasters is kept',
      });
    else seenName.set(h.name, path);

    const prevAddr = seenAddr.get(h.address);
    if (prevAddr)
      issues.push({
        path: `${path}.address`,
        message: `address ${h.address} is reused (also ${prevAddr})`,
        hint: 'every old and new master must have its own address',
      });
    else seenAddr.set(h.address, path);

    const prevMember = seenMember.get(h.etcd.name);
    if (prevMember) issues.push({ path: `${path}.etcd.name`, message: `duplicate etcd member name "${h.etcd.name}" (also ${prevMember})` });
    else seenMember.set(h.etcd.name, path);

    for (const field of ['peerURL', 'clientURL'] as const) {
      const got = urlHost(h.etcd[field]);
      if (got !== h.address) {
        issues.push({
          path: `${path}.etcd.${field}`,
          message: `host "${got}" does not match the host address ${h.address}`,
          hint: `use http(s)://${h.address}:${field === 'peerURL' ? 2380 : 2379}`,
        });
      }
    }
    if (plan.etcd.tls === undefined && h.etcd.clientURL.startsWith('https:')) {
      issues.push({
        path: `${path}.etcd.clientURL`,
        message: 'https client URL but etcd.tls is not set',
        hint: 'add etcd.tls {caFile, certFile, keyFile} or use http',
      });
    }
  }

  if (opts.runtimeChecks !== false) issues.push(...runtimeIssues(plan));

  const vipOwner = seenAddr.get(plan.loadBalancer.vip);
  if (vipOwner) {
    issues.push({
      path: 'loadBalancer.vip',
      message: `VIP ${plan.loadBalancer.vip} equals the address of ${vipOwner}`,
      hint: 'the VIP must be a free address that keepalived moves between masters',
    });
  }
  for (const [i, w] of plan.workerNodes.entries()) {
    if (seenName.has(w.name)) issues.push({ path: `workerNodes[${i}].name`, message: `worker "${w.name}" is also listed as a master` });
    if (w.address === plan.loadBalancer.vip) issues.push({ path: `workerNodes[${i}].address`, message: 'worker address equals the VIP' });
  }

  for (const h of [...all, ...plan.workerNodes.map((w, i) => ({ h: w, path: `workerNodes[${i}]` }))]) {
    const ssh = { ...plan.defaults.ssh, ...h.h.ssh };
    if (!ssh.privateKeyPath)
      issues.push({
        path: `${h.path}.ssh.privateKeyPath`,
        message: 'no SSH private key path (here or in defaults.ssh)',
        hint: 'set defaults.ssh.privateKeyPath',
      });
    if (!ssh.hostKeyFingerprint && !ssh.knownHostsPath) {
      issues.push({
        path: `${h.path}.ssh`,
        message: 'no host key pinned: set hostKeyFingerprint or knownHostsPath (here or in defaults.ssh)',
        hint: 'cpmigrate never trusts an unknown host key',
      });
    }
  }
  return issues;
}

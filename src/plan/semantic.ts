/** Cross-field rules that a schema cannot express. Pure: returns every issue found. */
import type { Plan } from './schema';
import type { PlanIssue } from './load';

const EXPECTED_MASTERS = 3;

function hostOf(u: string): string {
  try {
    return new URL(u).hostname;
  } catch {
    return '';
  }
}

export function semanticIssues(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = [];
  for (const side of ['oldMasters', 'newMasters'] as const) {
    if (plan[side].length !== EXPECTED_MASTERS) {
      issues.push({
        path: side,
        message: `expected exactly ${EXPECTED_MASTERS} hosts, got ${plan[side].length}`,
        hint: 'the migration replaces a 3-member control plane with 3 new masters',
      });
    }
  }

  const all = [
    ...plan.oldMasters.map((h, i) => ({ h, path: `oldMasters[${i}]` })),
    ...plan.newMasters.map((h, i) => ({ h, path: `newMasters[${i}]` })),
  ];
  const seenName = new Map<string, string>();
  const seenAddr = new Map<string, string>();
  const seenMember = new Map<string, string>();
  for (const { h, path } of all) {
    const prevName = seenName.get(h.name);
    if (prevName) issues.push({ path: `${path}.name`, message: `duplicate host name "${h.name}" (also ${prevName})`, hint: 'every old and new master must be a distinct host' });
    else seenName.set(h.name, path);

    const prevAddr = seenAddr.get(h.address);
    if (prevAddr) issues.push({ path: `${path}.address`, message: `address ${h.address} is reused (also ${prevAddr})`, hint: 'every old and new master must have its own address' });
    else seenAddr.set(h.address, path);

    const prevMember = seenMember.get(h.etcd.name);
    if (prevMember) issues.push({ path: `${path}.etcd.name`, message: `duplicate etcd member name "${h.etcd.name}" (also ${prevMember})` });
    else seenMember.set(h.etcd.name, path);

    for (const field of ['peerURL', 'clientURL'] as const) {
      const got = hostOf(h.etcd[field]);
      if (got !== h.address) {
        issues.push({
          path: `${path}.etcd.${field}`,
          message: `host "${got}" does not match the host address ${h.address}`,
          hint: `use http(s)://${h.address}:${field === 'peerURL' ? 2380 : 2379}`,
        });
      }
    }
    if (plan.etcd.tls === undefined && h.etcd.clientURL.startsWith('https:')) {
      issues.push({ path: `${path}.etcd.clientURL`, message: 'https client URL but etcd.tls is not set', hint: 'add etcd.tls {caFile, certFile, keyFile} or use http' });
    }
  }

  const vipOwner = seenAddr.get(plan.loadBalancer.vip);
  if (vipOwner) {
    issues.push({ path: 'loadBalancer.vip', message: `VIP ${plan.loadBalancer.vip} equals the address of ${vipOwner}`, hint: 'the VIP must be a free address that keepalived moves between masters' });
  }
  for (const [i, w] of plan.workerNodes.entries()) {
    if (seenName.has(w.name)) issues.push({ path: `workerNodes[${i}].name`, message: `worker "${w.name}" is also listed as a master` });
    if (w.address === plan.loadBalancer.vip) issues.push({ path: `workerNodes[${i}].address`, message: 'worker address equals the VIP' });
  }

  for (const h of all) {
    const ssh = { ...plan.defaults.ssh, ...h.h.ssh };
    if (!ssh.privateKeyPath) issues.push({ path: `${h.path}.ssh.privateKeyPath`, message: 'no SSH private key path (here or in defaults.ssh)', hint: 'set defaults.ssh.privateKeyPath' });
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

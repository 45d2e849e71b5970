/**
 * `cpmigrate rehearse`: a real plan → the lab shape that rehearses it. Pure.
 *
 * The lab names its hosts oldmaster-1..N and master-1..M; the rehearsal maps
 * the plan's hosts onto them in plan order (a kept host keeps its old-side
 * lab name), carries the strategy, the failed master and the checkpoints, and
 * refuses — before any lab is built — what the plan itself would be refused
 * for (the same step planner as the workflow) or what the lab cannot build.
 */
import type { LabShape } from '../lab/layout';
import { isFailed } from '../plan/hosts';
import type { Plan } from '../plan/schema';
import { MAX_MASTERS, projectShape, type ShapeProjection } from '../plan/shape';

export interface HostMapping {
  plan: string;
  lab: string;
  role: 'old' | 'new' | 'kept' | 'failed';
}

export interface Rehearsal {
  shape: LabShape;
  hosts: HostMapping[];
  projection: ShapeProjection;
  /** what the lab reproduces differently, one line each */
  notes: string[];
  /** the rehearsal cannot run: every reason */
  problems: string[];
}

export function rehearsalOf(plan: Plan): Rehearsal {
  const projection = projectShape({
    oldMasters: plan.oldMasters.map((h) => ({ name: h.name, ...(isFailed(h) ? { failed: true } : {}) })),
    newMasters: plan.newMasters.map((h) => ({ name: h.name })),
    ...(plan.strategy ? { strategy: plan.strategy } : {}),
    ...(plan.allowEvenMembers !== undefined ? { allowEvenMembers: plan.allowEvenMembers } : {}),
    ...(plan.acceptToleranceDrop !== undefined ? { acceptToleranceDrop: plan.acceptToleranceDrop } : {}),
  });
  const problems = projection.problems.map((p) => `${p.path}: ${p.message}${p.hint ? ` (${p.hint})` : ''}`);
  const oldNames = new Set(plan.oldMasters.map((h) => h.name));
  const hosts: HostMapping[] = plan.oldMasters.map((h, i) => ({
    plan: h.name,
    lab: `oldmaster-${i + 1}`,
    role: isFailed(h) ? 'failed' : plan.newMasters.some((n) => n.name === h.name) ? 'kept' : 'old',
  }));
  plan.newMasters.filter((h) => !oldNames.has(h.name)).forEach((h, i) => hosts.push({ plan: h.name, lab: `master-${i + 1}`, role: 'new' }));
  const failed = hosts.filter((h) => h.role === 'failed');
  if (failed.length > 1)
    problems.push(
      `the lab powers off one failed master, the plan marks ${failed.length} (${failed.map((h) => h.plan).join(', ')}): rehearse with one of them marked at a time`,
    );
  if (plan.oldMasters.length > MAX_MASTERS || plan.newMasters.length > MAX_MASTERS) problems.push(`the lab builds 1–${MAX_MASTERS} masters per side`);

  const notes: string[] = [];
  const services = new Set(
    [plan.etcd.service, plan.apiserver.service, plan.controllerManager.service, plan.scheduler.service, plan.loadBalancer.service, plan.keepalived.service].map(
      (s) => s.type,
    ),
  );
  if ([...services].some((t) => t !== 'commands')) {
    notes.push(
      `services: the plan runs ${[...services].join('/')} services; the lab has no systemd or kubelet static pods and runs every component as \`commands\` (cpm-svc) — the start/stop/restart order and the config files are the same`,
    );
  }
  if (plan.keepalived.onOldMasters === false)
    notes.push('keepalived: the plan has none on the old side; the lab builds its old masters with keepalived (the VIP step is rehearsed with an old side)');
  const gates = Object.entries(plan.checkpoints)
    .filter(([, c]) => c.enabled)
    .map(([g]) => g);
  notes.push(
    `checkpoints: ${gates.length ? gates.join(', ') : 'none'} in the plan; the rehearsal runs unattended: every checkpoint of the lab's plan is approved as it comes`,
  );
  notes.push("addresses, names and certificates are the lab's (198.18.0.0/24); the plan's hosts are never contacted unless --from-live is given (read-only)");

  const failedLab = failed[0]?.lab;
  const shape: LabShape = {
    old: plan.oldMasters.length,
    new: plan.newMasters.length,
    shared: hosts.filter((h) => h.role === 'kept').map((h) => h.lab),
    ...(failedLab ? { failed: failedLab } : {}),
    ...(plan.strategy ? { strategy: plan.strategy } : {}),
  };
  return { shape, hosts, projection, notes, problems };
}

/**
 * Approvals see what they approve. When a checkpoint starts waiting, its
 * evidence is read from the live cluster (activity checkpointEvidence: etcd
 * members and health, VIP holders, plus what the workflow knows for the gate)
 * and shown in the pending checkpoint; the approval records the digest it saw.
 * After the approval, right before acting, the evidence is read again: if its
 * digest differs, or the approval is older than `checkpoints.<gate>.expiresAfter`,
 * the approval is revoked (status lists it under ignored approvals, with why)
 * and the checkpoint waits again, showing every difference. Never approves
 * itself, never fails the migration for this. Workflow code.
 */
import { log } from '@temporalio/workflow';
import { evidenceChanges } from '../lib/evidence-diff';
import { evidenceGist, unreadableEvidence, type CheckpointEvidence, type KnownEvidence } from '../lib/evidence';
import type { OldMasterRef } from '../lib/old-master-refs';
import { describeFix, type ClientFix } from '../plan/client-fix';
import { durationMs, formatMs } from '../plan/duration';
import type { GateId, Plan } from '../plan/schema';
import type { CheckpointStep } from '../plan/steps';
import type { PendingCheckpoint } from '../shared';
import type { Proxies } from './activities';
import type { MigrationState } from './state';

export interface EvidenceCtx {
  plan: Plan;
  quick: Proxies['quick'];
  st: MigrationState;
  progress: (what: string) => void;
  /** waits while paused (abort gets through): the evidence is read again only once the workflow really goes on */
  holdIfPaused: () => Promise<void>;
  /** what the workflow knows for the gate (src/workflows/evidence.ts knownEvidence) */
  known: (gate: GateId) => KnownEvidence;
}

/** Waits for the checkpoint's approval with `extra` in its pending details; returns the approval's summary. */
export type WaitForApproval = (step: CheckpointStep, extra?: Partial<PendingCheckpoint>) => Promise<string>;

export type Recheck = { ok: true; note: string } | { ok: false; why: string };

/** The commands that approve a pending checkpoint; with a digest, they approve exactly that evidence. */
export function approveCommands(workflowId: string, gate: GateId, digest?: string): string[] {
  return [
    `npx cpmigrate approve ${workflowId} ${gate}${digest ? ` --evidence ${digest.slice(0, 12)}` : ''} --by "$USER" --reason "..."`,
    `temporal workflow signal --workflow-id ${workflowId} --name approve --input '{"gate":"${gate}",${digest ? `"evidenceDigest":"${digest}",` : ''}"by":"'"$USER"'"}'`,
  ];
}

/** The flag parity sentences of completed steps (the component steps' summaries), for the evidence. */
function paritySentences(st: MigrationState): string[] {
  const out: string[] = [];
  for (const r of st.completed.values()) {
    const m = /(?:^|; )((?:controller-manager |scheduler )?flag parity .*)$/.exec(r.summary ?? '');
    if (m?.[1]) out.push(`${r.key}: ${m[1]}`);
  }
  return out;
}

/** What the workflow knows for a gate: the parity of the components so far, the client fixes, the inventory. */
export function knownEvidence(gate: GateId, st: MigrationState, clientFixes: readonly ClientFix[], inventory?: readonly OldMasterRef[]): KnownEvidence {
  const parity = paritySentences(st);
  return {
    ...(parity.length ? { parity } : {}),
    ...(gate === 'client-fixes' ? { clientFixes: clientFixes.map(describeFix) } : {}),
    ...(gate === 'decommission' && inventory ? { inventory: inventory.map((r) => ({ ref: r.ref, ...(r.expected ? { expected: r.expected } : {}) })) } : {}),
  };
}

/**
 * The inventory to digest before acting: a reference gone since the approval
 * (fixed meanwhile) is no reason to ask again, a new one is. So when every
 * fresh reference was already in the approved evidence, the approved list
 * stands (and the digest with it); otherwise the fresh list is the evidence.
 */
export function inventoryToRecheck(approved: readonly string[] | undefined, fresh: KnownEvidence['inventory']): KnownEvidence['inventory'] {
  if (!approved || !fresh) return fresh;
  const seen = new Set(approved);
  if (!fresh.every((r) => seen.has(r.expected ? `${r.ref} (expected)` : r.ref))) return fresh;
  return approved.map((s) => (s.endsWith(' (expected)') ? { ref: s.slice(0, -' (expected)'.length), expected: 'expected' } : { ref: s }));
}

export class EvidenceGate {
  /** the evidence read by a refused recheck: the next round shows (and so approves) exactly that */
  private readonly fresh = new Map<GateId, { evidence: CheckpointEvidence; reapproval: NonNullable<PendingCheckpoint['reapproval']> }>();
  /** the evidence the waiting checkpoint showed */
  private readonly shown = new Map<GateId, CheckpointEvidence>();

  constructor(private readonly ctx: EvidenceCtx) {}

  /** Read the evidence; an activity that fails for good gives "unreadable" evidence (shown as such), never a failed migration. */
  async read(gate: GateId, known?: KnownEvidence): Promise<CheckpointEvidence> {
    const { plan, quick } = this.ctx;
    try {
      return await quick.checkpointEvidence(plan, gate, known ?? this.ctx.known(gate));
    } catch (e) {
      const why = ((e as Error & { cause?: Error }).cause ?? (e as Error)).message;
      log.warn('checkpoint evidence could not be read', { gate, error: why });
      return unreadableEvidence(gate, plan.loadBalancer.vip, why, new Date().toISOString());
    }
  }

  /** Read the evidence (or take the one a refused approval read) and wait for the approval with it shown. */
  async present(step: CheckpointStep, wait: WaitForApproval): Promise<string> {
    if (this.ctx.st.isApproved(step.gate)) return wait(step);
    const carried = this.fresh.get(step.gate);
    this.fresh.delete(step.gate);
    if (!carried) this.ctx.progress(`evidence for checkpoint "${step.gate}" (read-only)`);
    const evidence = carried?.evidence ?? (await this.read(step.gate));
    this.shown.set(step.gate, evidence);
    return wait(step, { evidence, ...(carried ? { reapproval: carried.reapproval } : {}) });
  }

  /**
   * After the approval, right before acting: the approval holds when the evidence
   * read now has the digest it approved and it is not older than expiresAfter.
   * Otherwise it is revoked, and the next present() shows the fresh evidence and why.
   */
  async recheck(step: CheckpointStep, known?: KnownEvidence): Promise<Recheck> {
    const { st, plan } = this.ctx;
    const rec = st.approvals.find((r) => r.gate === step.gate);
    if (!rec) return { ok: true, note: 'no approval to check' };
    const approved = this.shown.get(step.gate);
    const k = known ?? this.ctx.known(step.gate);
    let now: CheckpointEvidence;
    // paused meanwhile (before or during the read): hold, then read again, so the reading is the one acted on
    do {
      await this.ctx.holdIfPaused();
      this.ctx.progress(`evidence again, before acting on the approval of "${step.gate}"`);
      now = await this.read(step.gate, k.inventory ? { ...k, inventory: inventoryToRecheck(approved?.facts.inventory, k.inventory) } : k);
    } while (st.paused);
    const changes = approved && (rec.evidenceDigest ?? approved.digest) !== now.digest ? evidenceChanges(approved, now) : [];
    const expiresAfter = plan.checkpoints[step.gate]?.expiresAfter;
    const age = Date.now() - Date.parse(rec.at);
    const lapsed = expiresAfter !== undefined && age > durationMs(expiresAfter);
    if (!changes.length && !lapsed) {
      this.shown.delete(step.gate);
      return { ok: true, note: `${evidenceGist(now)} (unchanged when acting)` };
    }
    const reasons = [
      ...(lapsed
        ? [
            `the approval by ${rec.by} at ${rec.at} lapsed: it was ${formatMs(age)} old when the workflow got to act, past checkpoints.${step.gate}.expiresAfter (${expiresAfter})`,
          ]
        : []),
      ...(changes.length ? [`the cluster changed since the approval by ${rec.by} at ${rec.at}: ${changes.join('; ')}`] : []),
    ];
    const why = `${reasons.join('; and ')}; nothing was done: approve again what the checkpoint shows now`;
    st.revokeApproval(step.gate, why);
    log.warn('approval does not hold; the checkpoint waits again', { gate: step.gate, lapsed, changes });
    this.fresh.set(step.gate, { evidence: now, reapproval: { by: rec.by, at: rec.at, why: reasons.join('; and '), changes, lapsed } });
    return { ok: false, why };
  }

  /** A checkpoint with evidence: present, approval, recheck; again until an approval holds. */
  async approve(step: CheckpointStep, wait: WaitForApproval): Promise<string> {
    for (;;) {
      const approved = await this.present(step, wait);
      const r = await this.recheck(step);
      if (r.ok) return `${approved}; ${r.note}`;
    }
  }
}

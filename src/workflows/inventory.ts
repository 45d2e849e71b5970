/**
 * The decommission checkpoint with the inventory of what still names an old
 * master (src/activities/inventory.ts): its details list every reference;
 * after the approval the inventory is read again, and decommission starts only
 * when every reference left is expected or acknowledged (`approve ...
 * decommission --ack REF`). Otherwise the approval is revoked (status shows
 * why) and the checkpoint waits again with the fresh list. Workflow code.
 */
import { InventoryUnacknowledgedFailure } from '../errors';
import { describeRef, unacknowledged, type OldMasterRef } from '../lib/old-master-refs';
import type { Plan } from '../plan/schema';
import type { CheckpointStep } from '../plan/steps';
import type { Proxies } from './activities';
import type { MigrationState } from './state';

export interface InventoryGateCtx {
  plan: Plan;
  quick: Proxies['quick'];
  st: MigrationState;
  progress: (what: string) => void;
  /** waits for the checkpoint's approval; returns its summary */
  waitForApproval: (step: CheckpointStep) => Promise<string>;
  /** the checkpoint's details while it waits, the references its approval must acknowledge, and the inventory itself */
  setDetails: (lines: string[], toAcknowledge: string[], refs: readonly OldMasterRef[]) => void;
  /** right before decommission (src/workflows/evidence.ts): does the approval still hold (evidence unchanged, not lapsed)? */
  beforeActing?: (step: CheckpointStep, refs: readonly OldMasterRef[]) => Promise<{ ok: true; note: string } | { ok: false }>;
}

/** an operator answers each round: bounded all the same */
const MAX_ROUNDS = 50;

export function inventoryDetails(refs: readonly OldMasterRef[], acked: ReadonlySet<string>, unreadable: readonly string[], workflowId: string): string[] {
  const open = unacknowledged(refs, acked);
  const lines = refs.map((r) => `${r.expected ? 'expected' : acked.has(r.ref) ? 'acknowledged' : 'FIX OR ACK'} ${describeRef(r)}`);
  if (!refs.length) lines.push('inventory: nothing names an old master');
  for (const u of unreadable) lines.push(`unreadable (not checked): ${u}`);
  if (open.length)
    lines.push(
      `decommission waits until each of these is fixed or acknowledged: npx cpmigrate approve ${workflowId} decommission ${open.map((r) => `--ack '${r.ref}'`).join(' ')}`,
    );
  return lines;
}

export async function decommissionGate(ctx: InventoryGateCtx, step: CheckpointStep, workflowId: string): Promise<string> {
  const { plan, quick, st, progress } = ctx;
  const acked = new Set<string>();
  progress('inventory: what still names an old master (read-only)');
  let inv = await quick.inventoryOldMasterRefs(plan);
  // only refusals for unacknowledged references count: an approval that did not hold for its evidence never fails the migration
  for (let refused = 0; refused < MAX_ROUNDS;) {
    ctx.setDetails(
      inventoryDetails(inv.refs, acked, inv.unreadable, workflowId),
      unacknowledged(inv.refs, acked).map((r) => r.ref),
      inv.refs,
    );
    const approved = await ctx.waitForApproval(step);
    for (const a of st.approvals) if (a.gate === step.gate) for (const r of a.ack ?? []) acked.add(r);
    // the cluster may have changed while the checkpoint waited: read again before acting
    progress('inventory again, before decommission');
    inv = await quick.inventoryOldMasterRefs(plan);
    const open = unacknowledged(inv.refs, acked);
    if (!open.length) {
      // the approval revoked there when the cluster changed or it lapsed: the checkpoint waits again
      const held = ctx.beforeActing ? await ctx.beforeActing(step, inv.refs) : { ok: true as const, note: '' };
      if (held.ok) return `${approved}; ${inv.summary}${acked.size ? `; acknowledged: ${[...acked].join(', ')}` : ''}${held.note ? `; ${held.note}` : ''}`;
      continue;
    }
    refused++;
    st.revokeApproval(
      step.gate,
      `decommission refused: ${open.length} reference(s) to old masters neither fixed nor acknowledged: ${open.map((r) => r.ref).join(', ')}; fix them or approve again with --ack for each`,
    );
  }
  throw new InventoryUnacknowledgedFailure(`decommission checkpoint: ${MAX_ROUNDS} approvals left references to old masters unacknowledged`);
}

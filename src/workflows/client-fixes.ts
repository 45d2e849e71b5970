/**
 * The client-fixes step (workflow code: orchestration only): the exact
 * changes preflight proposed, applied after the client-fixes checkpoint —
 * kube-proxy first, then one kubelet at a time (rewrite, restart, its Node
 * Ready again before the next), then the old masters' controller-manager and
 * scheduler (rewrite, restart, healthy). Every change is in the summary.
 */
import { workflowInfo } from '@temporalio/workflow';
import { describeFix, fixId, orderFixes, type ClientFix } from '../plan/client-fix';
import type { Compensation } from './compensation';
import type { Ctx } from './runners';

const token = (what: string) => `${workflowInfo().workflowId}/${workflowInfo().firstExecutionRunId}/${what}`;

export async function applyClientFixes({ plan, quick, long, progress }: Ctx, fixes: readonly ClientFix[]): Promise<string> {
  if (!fixes.length) return 'nothing to fix: every client already uses the LB (or its local apiserver)';
  const done: string[] = [];
  for (const f of orderFixes(fixes)) {
    progress(describeFix(f));
    const applied = await quick.applyClientFix(plan, f);
    if (f.kind === 'kube-proxy') {
      const rolled = await long.restartClient(plan, f, token('client-fixes'));
      done.push(`${applied.summary}; ${rolled.summary}`);
    } else if (f.kind === 'kubelet') {
      const restarted = await quick.restartClient(plan, f, token('client-fixes'));
      progress(`waiting for Node ${f.node} to be Ready again`);
      const ready = await long.waitNodeReady(plan, f.node, restarted.heartbeatBefore);
      done.push(`${applied.summary}; kubelet restarted; ${ready.summary}`);
    } else {
      await quick.restartClient(plan, f, token('client-fixes'));
      progress(`waiting for ${f.component} on ${f.node}`);
      await long.waitComponentHealthy(plan, f.node, f.component);
      done.push(`${applied.summary}; restarted, healthy`);
    }
  }
  return `${fixes.length} client fix(es): ${done.join(' | ')}`;
}

/** Undo: newest first, each backup restored and its client restarted (a fix never applied is a no-op). */
export function clientFixesCompensation({ plan, long }: Ctx, key: string, fixes: readonly ClientFix[]): Compensation {
  return {
    step: key,
    what: `restore the backups of ${fixes.length} client fix(es)`,
    run: async () => {
      for (const f of orderFixes(fixes).reverse()) {
        const r = await long.revertClientFix(plan, f, token(`rollback/${fixId(f)}`));
        if (f.kind === 'kubelet' && r.changed) await long.waitNodeReady(plan, f.node, r.heartbeatBefore);
        if (f.kind === 'controlplane' && r.changed) await long.waitComponentHealthy(plan, f.node, f.component);
      }
    },
  };
}

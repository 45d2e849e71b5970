/** Node activities: cordon, uncordon, labels, taints, existence. Idempotent: an unchanged Node says so. */
import { failpoint } from '../../lib/failpoint';
import {
  applyTaintChanges,
  formatTaint,
  isConflict,
  isNotFound,
  kubeCall,
  labelPatch,
  mergePatch,
  parseLabelChange,
  parseTaintChange,
  sameTaints,
} from '../../lib/kube';
import type { StepOutcome } from '../types';
import { readNodeOrFail, setUnschedulable, type KubeContext, type KubePlan } from './context';

export function nodeActivities(ctx: KubeContext) {
  async function cordonNode(plan: KubePlan, node: string): Promise<StepOutcome> {
    const changed = await setUnschedulable(ctx.clients(plan), node, true);
    return { summary: changed ? `cordoned ${node}` : `${node} was already cordoned`, changed };
  }

  async function uncordonNode(plan: KubePlan, node: string): Promise<StepOutcome> {
    const changed = await setUnschedulable(ctx.clients(plan), node, false);
    failpoint('kube.uncordon.after-patch', node);
    return { summary: changed ? `uncordoned ${node}` : `${node} was already schedulable`, changed };
  }

  async function labelNode(plan: KubePlan, node: string, changes: string[]): Promise<StepOutcome> {
    const parsed = changes.map(parseLabelChange);
    const k = ctx.clients(plan);
    const n = await readNodeOrFail(k, node);
    const patch = labelPatch(n.metadata?.labels, parsed);
    if (!patch) return { summary: `${node}: labels already ${changes.join(' ')}`, changed: false };
    await kubeCall(k, `label Node ${node}`, () => k.core.patchNode({ name: node, body: { metadata: { labels: patch } } }, mergePatch));
    failpoint('kube.label.after-patch', node);
    return { summary: `${node}: labeled ${changes.join(' ')}`, changed: true, details: { patch } };
  }

  async function taintNode(plan: KubePlan, node: string, changes: string[]): Promise<StepOutcome> {
    const parsed = changes.map(parseTaintChange);
    const k = ctx.clients(plan);
    // taints are a list: read-modify-write guarded by resourceVersion, retried on conflict
    for (let attempt = 1; ; attempt++) {
      const n = await readNodeOrFail(k, node);
      const current = n.spec?.taints ?? [];
      const next = applyTaintChanges(current, parsed);
      if (sameTaints(current, next)) return { summary: `${node}: taints already ${changes.join(' ')}`, changed: false };
      try {
        await kubeCall(k, `taint Node ${node}`, () =>
          k.core.patchNode(
            { name: node, body: { metadata: { resourceVersion: n.metadata?.resourceVersion }, spec: { taints: next.length ? next : null } } },
            mergePatch,
          ),
        );
        failpoint('kube.taint.after-patch', node);
        return { summary: `${node}: tainted ${changes.join(' ')}`, changed: true, details: { taints: next.map(formatTaint) } };
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
      }
    }
  }

  async function nodeExists(plan: KubePlan, node: string): Promise<boolean> {
    const k = ctx.clients(plan);
    try {
      await kubeCall(k, `read Node ${node}`, () => k.core.readNode({ name: node }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  return { cordonNode, uncordonNode, labelNode, taintNode, nodeExists };
}

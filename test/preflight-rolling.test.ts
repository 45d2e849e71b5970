/**
 * Preflight for strategy rolling (src/activities/preflight-rolling.ts): an old
 * kube-apiserver that would have no etcd member left after an early etcd-leave
 * (kubeadm's stacked 127.0.0.1:2379) is a named blocker, found by reading the
 * live config; the runbook's grow-then-shrink and apiservers that list every
 * old member are not blocked.
 */
import { describe, expect, it } from 'vitest';
import { checkRollingEtcdServers, strandedApiservers } from '../src/activities/preflight-rolling';
import type { Reason } from '../src/activities/reasons';
import { planSchema, type Plan } from '../src/plan/schema';
import { FakeHosts } from './support/fake-hosts';
import { examplePlanInput } from './support/plans';

const host = (name: string, n: number) => ({
  name,
  address: `10.0.0.${n}`,
  etcd: { name, clientURL: `http://10.0.0.${n}:2379`, peerURL: `http://10.0.0.${n}:2380` },
});
const OLD = [host('o1', 1), host('o2', 2), host('o3', 3)];
const NEW = [host('n1', 11), host('n2', 12), host('n3', 13)];
const planOf = (strategy: 'rolling' | 'grow-then-shrink'): Plan => planSchema.parse({ ...examplePlanInput(), oldMasters: OLD, newMasters: NEW, strategy });
const all = OLD.map((h) => h.etcd.clientURL);

describe('rolling preflight: old apiservers keep an etcd member', () => {
  it("stacked etcd (each apiserver on its own member via 127.0.0.1): the early leavers' apiservers are stranded", () => {
    const servers = new Map(OLD.map((h) => [h.name, ['https://127.0.0.1:2379']]));
    expect(strandedApiservers(planOf('rolling'), servers)).toEqual([
      { host: 'o1', after: 'etcd-leave/o1', servers: ['https://127.0.0.1:2379'] },
      { host: 'o2', after: 'etcd-leave/o2', servers: ['https://127.0.0.1:2379'] },
    ]);
    // the runbook's order removes old members only after the VIP moved: nothing early
    expect(strandedApiservers(planOf('grow-then-shrink'), servers)).toEqual([]);
  });

  it('apiservers listing every old member keep the last one (it leaves at its decommission)', () => {
    expect(strandedApiservers(planOf('rolling'), new Map(OLD.map((h) => [h.name, all])))).toEqual([]);
  });

  it('a list of only early leavers strands another host too; an external etcd is assumed to stay', () => {
    const servers = new Map<string, string[]>([
      ['o3', [OLD[0]?.etcd.clientURL ?? '', OLD[1]?.etcd.clientURL ?? '']],
      ['o1', ['https://etcd.example.internal:2379']],
    ]);
    expect(strandedApiservers(planOf('rolling'), servers)).toEqual([{ host: 'o3', after: 'etcd-leave/o2', servers: servers.get('o3') }]);
  });

  it('reads the live --etcd-servers and blocks with the fix, changing nothing', async () => {
    const plan = planOf('rolling');
    const f = new FakeHosts();
    for (const h of OLD)
      f.host(h.name).files.set(
        plan.paths.apiserverConfig,
        `spec:\n  containers:\n  - command:\n    - kube-apiserver\n    - --etcd-servers=https://127.0.0.1:2379\n`,
      );
    const blocked: Array<{ reason: Reason; subject: string; message: string; fix?: string }> = [];
    await checkRollingEtcdServers(plan, f, OLD, {
      block: (reason, subject, message, fix) => blocked.push({ reason, subject, message, ...(fix ? { fix } : {}) }),
      warn: () => undefined,
    });
    expect(blocked.map((b) => [b.reason, b.subject])).toEqual([
      ['RollingStrandsApiserver', 'o1'],
      ['RollingStrandsApiserver', 'o2'],
    ]);
    expect(blocked[0]?.message).toMatch(
      /after etcd-leave\/o1 the kube-apiserver on o1 .* --etcd-servers=https:\/\/127\.0\.0\.1:2379, whose members have left by then/,
    );
    expect(blocked[0]?.fix).toMatch(/grow-then-shrink/);
    expect(f.commands).toEqual([]);
  });
});

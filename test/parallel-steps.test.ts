/**
 * plan.parallelism (issue #16): the new masters' traffic-free steps run in
 * batches, everything else one at a time (real Temporal dev server, recording
 * activity doubles that record when each call starts and ends).
 */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { migrationSteps } from '../src/plan/steps';
import { planSchema, type Plan } from '../src/plan/schema';
import { resumeSignal, statusQuery, workflowIdFor } from '../src/shared';
import { sleep } from '../src/lib/sleep';
import { type Call } from './support/recording-activities';
import { testPlan, uniqueCluster } from './support/plans';
import { workflowTestEnv } from './support/temporal';

const env = workflowTestEnv();

interface Timed {
  name: string;
  host: string;
  t0: number;
  t1: number;
}

/** the host an activity call is about (copyPki: its target) */
const hostOf = (c: Call): string => String(c.name === 'copyPki' ? c.args[1] : (c.args[0] ?? ''));
const names = (calls: Call[]) => calls.map((c) => `${c.name}${typeof c.args[0] === 'string' ? ` ${c.args[0]}` : ''}`);
/** the first activity of each batchable step: slow enough that calls dispatched together surely overlap */
const SLOW = new Set(['copyPki', 'configureApiserver', 'configureApiserverLb', 'configureControllerManagerScheduler']);
const EXCLUSIVE = ['etcdJoinMember', 'configureKeepalived', 'verifyVip', 'etcdRemoveMember', 'fenceOldMaster'];

function withParallelism(plan: Plan, parallelism: number | undefined): Plan {
  return { ...plan, parallelism };
}

/** Record each call's start and end; SLOW calls take 800 ms, the others 30 ms. */
function timeline(): { timed: Timed[]; before: (c: Call) => Promise<void> } {
  const timed: Timed[] = [];
  return {
    timed,
    before: async (c) => {
      const t0 = Date.now();
      await sleep(SLOW.has(c.name) ? 800 : 30);
      timed.push({ name: c.name, host: hostOf(c), t0, t1: Date.now() });
    },
  };
}

const overlap = (a: Timed, b: Timed) => a.t0 < b.t1 && b.t0 < a.t1;

async function patchesOf(h: WorkflowHandle): Promise<string> {
  const history = await h.fetchHistory();
  return JSON.stringify(history.events?.filter((e) => e.markerRecordedEventAttributes) ?? [], (k, v: unknown) =>
    v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v,
  );
}

describe('plan.parallelism', () => {
  it('parallelism 3: each traffic-free phase of the 3 new masters overlaps in time; etcd joins, the VIP switch and decommission overlap nothing', async () => {
    const plan = withParallelism(testPlan({ cluster: uniqueCluster('par3') }), 3);
    const { timed, before } = timeline();
    await env.withWorker({ before }, async () => {
      const h = await env.start(plan);
      await h.result();
      expect(await patchesOf(h)).toContain('parallel-steps');
      const status = await h.query(statusQuery);
      // every step recorded once, in plan order, each with its own summary
      expect(status.completed.map((r) => r.key)).toEqual(migrationSteps(plan).map((s) => s.key));
      const certs = status.completed.filter((r) => r.phase === 'certificates').map((r) => r.summary);
      expect(new Set(certs).size).toBe(3);
    });
    for (const name of SLOW) {
      const calls = timed.filter((t) => t.name === name);
      expect(calls.map((t) => t.host).sort(), name).toEqual(['master-1', 'master-2', 'master-3']);
      // all three at one moment: the latest start before the earliest end
      expect(Math.max(...calls.map((t) => t.t0)), name).toBeLessThan(Math.min(...calls.map((t) => t.t1)));
    }
    const exclusive = timed.filter((t) => EXCLUSIVE.includes(t.name) || (t.name === 'stopComponent' && t.host.startsWith('oldmaster-')));
    expect(exclusive.length).toBeGreaterThan(10);
    for (const x of exclusive) {
      const others = timed.filter((t) => t !== x && overlap(t, x));
      expect(others, `${x.name} ${x.host} overlaps`).toEqual([]);
    }
  });

  it('parallelism 1 (or unset): exactly today’s order, one host at a time, no parallel-steps marker', async () => {
    const unset = testPlan({ cluster: uniqueCluster('par-unset') });
    const one = withParallelism(testPlan({ cluster: uniqueCluster('par1') }), 1);
    const sequences: string[][] = [];
    for (const plan of [unset, one]) {
      const { timed, before } = timeline();
      await env.withWorker({ before }, async (calls) => {
        const h = await env.start(plan);
        await h.result();
        expect(await patchesOf(h)).not.toContain('parallel-steps');
        sequences.push(names(calls));
      });
      const sorted = [...timed].sort((a, b) => a.t0 - b.t0);
      sorted.slice(1).forEach((t, i) => expect(t.t0, `${t.name} ${t.host} starts before the previous call ended`).toBeGreaterThanOrEqual(sorted[i]?.t1 ?? 0));
    }
    expect(sequences[1]).toEqual(sequences[0]);
  });

  it('a step failing in a batch: the others finish, the migration holds on it; resume retries only it, every step completed once', async () => {
    const plan = withParallelism(testPlan({ cluster: uniqueCluster('par-hold') }), 3);
    let failures = 0;
    await env.withWorker(
      {
        before: async (c) => {
          if (c.name === 'reissueApiserverCert' && c.args[0] === 'master-2' && failures === 0) {
            failures += 1;
            throw ApplicationFailure.nonRetryable('CA key unreadable on master-2', 'CertificateError');
          }
          // master-3's certificates finish well after master-2's failed
          if (c.name === 'copyPki' && c.args[1] === 'master-3') await sleep(1500);
        },
      },
      async (calls) => {
        const h = await env.start(plan);
        const blocked = await env.waitStatus(plan, (s) => s.state === 'blocked', 'blocked');
        expect(blocked.lastError).toMatchObject({ step: 'certificates/master-2', type: 'CertificateError' });
        expect(blocked.currentStep?.key).toBe('certificates/master-2');
        expect(blocked.completed.map((r) => r.key)).toEqual(expect.arrayContaining(['certificates/master-1', 'certificates/master-3']));
        expect(blocked.completed.map((r) => r.key)).not.toContain('certificates/master-2');
        expect(calls.filter((c) => c.name === 'configureApiserver')).toEqual([]);
        await h.signal(resumeSignal, {});
        await h.result();
        const status = await env.client.workflow.getHandle(workflowIdFor(plan.cluster)).query(statusQuery);
        expect(status.completed.map((r) => r.key)).toEqual(migrationSteps(plan).map((s) => s.key));
        const copies = (host: string) => calls.filter((c) => c.name === 'copyPki' && c.args[1] === host).length;
        // the completed ones ran once; the failed one again on resume
        expect([copies('master-1'), copies('master-2'), copies('master-3')]).toEqual([1, 2, 1]);
        expect(calls.filter((c) => c.name === 'reissueApiserverCert').map((c) => c.args[0])).toEqual(
          expect.arrayContaining(['master-1', 'master-2', 'master-3']),
        );
        expect(calls.filter((c) => c.name === 'reissueApiserverCert')).toHaveLength(3);
      },
    );
  });

  it('the plan schema takes 1 to 7 and rejects 0, 8 and fractions', () => {
    const base = testPlan();
    for (const ok of [1, 3, 7]) expect(planSchema.safeParse({ ...base, parallelism: ok }).success, String(ok)).toBe(true);
    for (const bad of [0, 8, 2.5]) expect(planSchema.safeParse({ ...base, parallelism: bad }).success, String(bad)).toBe(false);
  });
});

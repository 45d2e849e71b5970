/**
 * Orchestration of migrateControlPlane on a real Temporal dev server, with
 * recording activity doubles (the real activities have their own tests).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, WorkflowUpdateFailedError, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { migrationSteps } from '../src/plan/steps';
import type { Plan } from '../src/plan/schema';
import {
  TASK_QUEUE,
  WORKFLOW_TYPE,
  abortSignal,
  approveSignal,
  approveUpdate,
  pauseSignal,
  resumeSignal,
  statusQuery,
  workflowIdFor,
  type MigrationStatus,
} from '../src/shared';
import { type Call } from './support/recording-activities';
import { examplePlanInput, testPlan, uniqueCluster } from './support/plans';
import { temporalBinary, workflowTestEnv } from './support/temporal';
import { sleep } from '../src/lib/sleep';

const run = promisify(execFile);
const env = workflowTestEnv();
const { withWorker, start, waitStatus } = env;

const names = (calls: Call[]) => calls.map((c) => `${c.name}${typeof c.args[0] === 'string' ? ` ${c.args[0]}` : ''}`);

describe('migrateControlPlane orchestration', () => {
  it('runs every runbook step in the documented order, one host at a time', async () => {
    const plan = testPlan({ cluster: uniqueCluster('order') });
    await withWorker({}, async (calls) => {
      const result = await (await start(plan)).result();
      expect(result.steps).toBe(migrationSteps(plan).length);
      const seq = names(calls);
      // The runbook, written out by hand so a reordering in steps.ts is caught.
      const expected = [
        'preflight',
        ...['master-1', 'master-2', 'master-3'].flatMap((n) => [`drainNode ${n}`, `labelNode ${n}`, `taintNode ${n}`, `uncordonNode ${n}`]),
        'etcdSnapshot',
        'etcdJoinMember master-1',
        'etcdJoinMember master-2',
        'etcdJoinMember master-3',
        ...['master-1', 'master-2', 'master-3'].flatMap((n) => [`copyPki oldmaster-1`, `reissueApiserverCert ${n}`]),
        ...['master-1', 'master-2', 'master-3'].flatMap((n) => [
          'etcdClientURLs',
          `configureApiserver ${n}`,
          `startComponent ${n}`,
          `waitComponentHealthy ${n}`,
        ]),
        ...['master-1', 'master-2', 'master-3'].flatMap((n) => [`configureApiserverLb ${n}`, `startComponent ${n}`, `waitComponentHealthy ${n}`]),
        ...['master-1', 'master-2', 'master-3'].flatMap((n) => [
          `configureControllerManagerScheduler ${n}`,
          `startComponent ${n}`,
          `startComponent ${n}`,
          `waitComponentHealthy ${n}`,
          `waitComponentHealthy ${n}`,
        ]),
        'etcdClientURLs',
        'patchCalicoEtcdEndpoints',
        'rolloutRestart DaemonSet',
        'rolloutRestart Deployment',
        'configureKeepalived master-1',
        'configureKeepalived master-2',
        'configureKeepalived master-3',
        'verifyVip new', // the new side took the VIP, one holder, before the old keepalived stop
        'stopComponent oldmaster-1',
        'stopComponent oldmaster-2',
        'stopComponent oldmaster-3',
        'verifyVip new',
        ...['oldmaster-1', 'oldmaster-2', 'oldmaster-3'].flatMap((n) => [
          `stopComponent ${n}`,
          `stopComponent ${n}`,
          `stopComponent ${n}`,
          `stopComponent ${n}`,
          `etcdRemoveMember ${n}`,
          `fenceOldMaster ${n}`,
        ]),
        'etcdRewriteConfig master-1',
        'etcdRewriteConfig master-2',
        'etcdRewriteConfig master-3',
        'labelNode oldmaster-1',
        'labelNode oldmaster-2',
        'labelNode oldmaster-3',
        'taintNode master-1',
        'taintNode master-2',
        'taintNode master-3',
        'setExporterEndpoints',
      ];
      expect(seq).toEqual(expected);
      // --etcd-servers written to the apiserver is the NEW members only, from the live list.
      const cfg = calls.find((c) => c.name === 'configureApiserver');
      expect(cfg?.args[1]).toEqual(plan.newMasters.map((h) => h.etcd.clientURL).sort());
      const cleanup = calls.filter((c) => c.name === 'labelNode' && String(c.args[0]).startsWith('oldmaster'));
      expect(cleanup.every((c) => JSON.stringify(c.args[1]) === JSON.stringify(['node-role.kubernetes.io/master-']))).toBe(true);
      const status = await env.client.workflow.getHandle(workflowIdFor(plan.cluster)).query(statusQuery);
      expect(status.state).toBe('completed');
      expect(status.completed.map((r) => r.key)).toEqual(migrationSteps(plan).map((s) => s.key));
      expect(status.completed.every((r) => r.endedAt && r.summary)).toBe(true);
      expect(status.pointOfNoReturnPassed).toBe(true);
    });
  });

  it('blocks at a checkpoint until approved; a wrong gate is rejected and not recorded; overdue is reported, never self-approved', async () => {
    const plan = testPlan({ cluster: uniqueCluster('gate'), gates: ['switch-traffic'], remindAfter: '1s' });
    await withWorker({}, async (calls) => {
      const handle = await start(plan);
      const waiting = await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'switch-traffic', 'switch-traffic checkpoint');
      expect(waiting.state).toBe('waiting-approval');
      expect(waiting.currentStep?.key).toBe('checkpoint/switch-traffic');
      expect(waiting.completed.at(-1)?.key).toBe('calico');
      expect(waiting.pendingCheckpoint?.approveCommands.join('\n')).toContain(`temporal workflow signal --workflow-id ${handle.workflowId} --name approve`);
      await sleep(1_800);
      const overdue = await handle.query(statusQuery);
      expect(overdue.pendingCheckpoint?.overdue).toBe(true);
      expect(overdue.approvals).toEqual([]);
      expect(calls.some((c) => c.name === 'configureKeepalived')).toBe(false);

      const wrong = await handle.executeUpdate(approveUpdate, { args: [{ gate: 'decommission', by: 'mallory' }] }).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(String((wrong as WorkflowUpdateFailedError).cause?.message)).toContain('pending checkpoint is "switch-traffic"');
      expect((await handle.query(statusQuery)).approvals).toEqual([]);

      const rec = await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'alice', reason: 'CHG-42' }] });
      expect(rec).toMatchObject({ gate: 'switch-traffic', by: 'alice', reason: 'CHG-42' });
      await handle.result();
      const done = await handle.query(statusQuery);
      expect(done.approvals).toHaveLength(1);
      expect(done.completed.find((r) => r.key === 'checkpoint/switch-traffic')?.summary).toMatch(
        /^approved by alice \(CHG-42\); evidence [0-9a-f]{12}: 3\/3 etcd members healthy, VIP on oldmaster-1 \(unchanged when acting\)$/,
      );
      // nothing of the VIP step ran before the approval
      const approvedIdx = names(calls).indexOf('configureKeepalived master-1');
      expect(approvedIdx).toBeGreaterThan(names(calls).indexOf('rolloutRestart Deployment'));
      // no checkpoint pending → the update is rejected
      const late = await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic' }] }).catch((e: unknown) => e);
      expect(late).toBeDefined();
    });
  });

  it('abort ends the workflow with the reason and runs nothing after it', async () => {
    const plan = testPlan({ cluster: uniqueCluster('abort'), gates: ['switch-traffic'] });
    await withWorker({}, async (calls) => {
      const handle = await start(plan);
      await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'switch-traffic', 'checkpoint');
      const before = calls.length;
      await handle.signal(abortSignal, { reason: 'change window closed', by: 'bob' });
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe('MigrationAborted');
      expect(cause.message).toContain('aborted by bob: change window closed');
      expect(cause.message).toContain('before the point of no return');
      expect(calls.length).toBe(before);
      expect((await handle.query(statusQuery)).state).toBe('aborted');
    });
  });

  it('pause holds before the next step; resume continues', async () => {
    const plan = testPlan({ cluster: uniqueCluster('pause') });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const reachedJoin = new Promise<void>((r) => (reached = r));
    await withWorker(
      {
        before: async (c) => {
          if (c.name === 'etcdJoinMember' && c.args[0] === 'master-1') {
            reached();
            await gate;
          }
        },
      },
      async (calls) => {
        const handle = await start(plan);
        await reachedJoin;
        await handle.signal(pauseSignal, { by: 'carol' });
        release();
        const paused = await waitStatus(
          plan,
          (s) => s.state === 'paused' && s.completed.some((r) => r.key === 'etcd-join/master-1'),
          'paused after etcd-join/master-1',
        );
        expect(paused.completed.at(-1)?.key).toBe('etcd-join/master-1');
        expect(paused.pauseRequestedBy).toBe('carol');
        const n = calls.length;
        await sleep(1_500);
        expect(calls.length).toBe(n); // nothing runs while paused
        expect(names(calls).at(-1)).toBe('etcdJoinMember master-1');
        await handle.signal(resumeSignal, { by: 'carol' });
        await handle.result();
        expect(names(calls)).toContain('etcdJoinMember master-2');
      },
    );
  });

  it('a step that fails for good holds the migration with the error; resume retries it', async () => {
    const plan = testPlan({ cluster: uniqueCluster('hold') });
    let failures = 0;
    await withWorker(
      {
        before: (c) => {
          if (c.name === 'etcdRemoveMember' && c.args[0] === 'oldmaster-2' && failures === 0) {
            failures += 1;
            throw ApplicationFailure.nonRetryable('removing oldmaster-2 would leave 2 healthy voters of 5, quorum needs 3', 'UnsafeOperationError');
          }
        },
      },
      async (calls) => {
        const handle = await start(plan);
        const blocked = await waitStatus(plan, (s) => s.state === 'blocked', 'blocked');
        expect(blocked.lastError).toMatchObject({ step: 'decommission-old/oldmaster-2', type: 'UnsafeOperationError' });
        expect(blocked.lastError?.message).toContain('quorum needs 3');
        expect(calls.filter((c) => c.name === 'etcdRemoveMember').map((c) => c.args[0])).toEqual(['oldmaster-1']);
        await handle.signal(resumeSignal, {});
        await handle.result();
        expect(calls.filter((c) => c.name === 'etcdRemoveMember').map((c) => c.args[0])).toEqual(['oldmaster-1', 'oldmaster-2', 'oldmaster-3']);
      },
    );
  });

  it('a failed etcd join removes its learner again (compensation) before holding', async () => {
    const plan = testPlan({ cluster: uniqueCluster('comp') });
    await withWorker(
      {
        before: (c) => {
          if (c.name === 'etcdJoinMember' && c.args[0] === 'master-2') throw ApplicationFailure.nonRetryable('member never caught up', 'UnsafeOperationError');
        },
      },
      async (calls) => {
        const handle = await start(plan);
        await waitStatus(plan, (s) => s.state === 'blocked', 'blocked');
        expect(names(calls).slice(-2)).toEqual(['etcdJoinMember master-1', 'etcdAbandonJoin master-2']);
        await handle.signal(abortSignal, { reason: 'investigate' });
        await expect(handle.result()).rejects.toThrow();
      },
    );
  });

  it('refuses a second migration of the same cluster while one runs', async () => {
    const plan = testPlan({ cluster: uniqueCluster('dup'), gates: ['preflight-ack'] });
    await withWorker({}, async () => {
      const handle = await start(plan);
      await waitStatus(plan, (s) => s.pendingCheckpoint !== undefined, 'checkpoint');
      await expect(
        env.client.workflow.start(WORKFLOW_TYPE, {
          taskQueue: TASK_QUEUE,
          workflowId: workflowIdFor(plan.cluster),
          args: [{ plan }],
          workflowIdConflictPolicy: 'FAIL',
        }),
      ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
      await handle.terminate('test done');
    });
  });

  it('works with the plain temporal CLI: signal approve, query status', async () => {
    const plan = testPlan({ cluster: uniqueCluster('cli'), gates: ['decommission'] });
    await withWorker({}, async () => {
      const handle = await start(plan);
      await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'decommission', 'decommission checkpoint');
      const bin = temporalBinary();
      const common = ['--address', env.server.address, '--workflow-id', handle.workflowId];
      const q = await run(bin, ['workflow', 'query', ...common, '--type', 'status', '--output', 'json']);
      const parsed = JSON.parse(q.stdout) as { queryResult: MigrationStatus[] };
      expect(parsed.queryResult[0]?.pendingCheckpoint?.gate).toBe('decommission');
      await run(bin, [
        'workflow',
        'signal',
        ...common,
        '--name',
        'approve',
        '--input',
        JSON.stringify({ gate: 'decommission', by: 'dave', reason: 'via temporal CLI' }),
      ]);
      await handle.result();
      const s = await handle.query(statusQuery);
      expect(s.approvals).toEqual([expect.objectContaining({ gate: 'decommission', by: 'dave', reason: 'via temporal CLI' })]);
    });
  });

  it('starts from the plain temporal CLI with a rendered plan, and rejects an invalid raw plan before any activity', async () => {
    const bin = temporalBinary();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cpm-wf-'));
    const good = testPlan({ cluster: uniqueCluster('tcli') });
    const bad = { ...examplePlanInput(), cluster: uniqueCluster('tbad'), newMasters: examplePlanInput().newMasters?.slice(0, 2) };
    writeFileSync(path.join(dir, 'good.json'), JSON.stringify({ plan: good }));
    writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ plan: bad }));
    await withWorker({}, async (calls) => {
      for (const [name, cluster] of [
        ['good', good.cluster],
        ['bad', bad.cluster],
      ] as const) {
        await run(bin, [
          'workflow',
          'start',
          '--address',
          env.server.address,
          '--type',
          WORKFLOW_TYPE,
          '--task-queue',
          TASK_QUEUE,
          '--workflow-id',
          workflowIdFor(cluster),
          '--input-file',
          path.join(dir, `${name}.json`),
        ]);
      }
      const ok = await env.client.workflow.getHandle(workflowIdFor(good.cluster)).result();
      expect(ok.cluster).toBe(good.cluster);
      const n = calls.length;
      const err = await env.client.workflow
        .getHandle(workflowIdFor(bad.cluster))
        .result()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe('PlanError');
      expect(cause.message).toContain('newMasters: the final etcd has 2 members: it tolerates 0 failure(s)');
      expect(calls.length).toBe(n);
    });
  });

  it('abort --rollback before the point of no return undoes completed steps newest first', async () => {
    const plan = testPlan({ cluster: uniqueCluster('rollback'), gates: ['switch-traffic'] });
    await withWorker({}, async (calls) => {
      const handle = await start(plan);
      await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'switch-traffic', 'checkpoint');
      const before = calls.length;
      await handle.signal(abortSignal, { reason: 'rehearsal only', by: 'erin', rollback: true });
      const err = await handle.result().catch((e: unknown) => e);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe('MigrationAborted');
      expect(cause.message).toContain('rolled back 13 step(s)');
      const undo = names(calls.slice(before));
      expect(undo).toEqual([
        'patchCalicoEtcdEndpoints',
        'rolloutRestart DaemonSet',
        'rolloutRestart Deployment',
        ...['master-3', 'master-2', 'master-1'].flatMap((n) => [`stopComponent ${n}`, `stopComponent ${n}`]),
        ...['master-3', 'master-2', 'master-1'].map((n) => `stopComponent ${n}`),
        ...['master-3', 'master-2', 'master-1'].map((n) => `stopComponent ${n}`),
        'etcdRemoveMember master-3',
        'etcdRemoveMember master-2',
        'etcdRemoveMember master-1',
      ]);
      expect(calls[before]?.args[0]).toEqual(plan.oldMasters.map((h) => h.etcd.clientURL).sort());
      const s = await handle.query(statusQuery);
      expect(s.rolledBack?.[0]).toBe('calico');
      expect(s.state).toBe('aborted');
    });
  });

  it('a compensation that fails holds the rollback for an operator; resume retries it and the rollback completes', async () => {
    const plan = testPlan({ cluster: uniqueCluster('rbhold'), gates: ['switch-traffic'] });
    let failures = 0;
    await withWorker(
      {
        before: (c) => {
          if (c.name === 'etcdRemoveMember' && c.args[0] === 'master-2' && failures === 0) {
            failures++;
            throw ApplicationFailure.nonRetryable('etcd refused the removal', 'UnsafeOperationError');
          }
        },
      },
      async (calls) => {
        const handle = await start(plan);
        await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'switch-traffic', 'checkpoint');
        await handle.signal(abortSignal, { reason: 'rehearsal', by: 'erin', rollback: true });
        // half rolled back: held, with the error, not ended
        const held = await waitStatus(plan, (s) => s.state === 'blocked', 'rollback held');
        expect(held.lastError?.step).toBe('rollback etcd-join/master-2');
        expect(held.lastError?.message).toMatch(/etcd refused the removal/);
        expect(held.rolledBack).toContain('etcd-join/master-3');
        expect(held.rolledBack).not.toContain('etcd-join/master-1');
        await handle.signal(resumeSignal, { by: 'erin' });
        const err = await handle.result().catch((e: unknown) => e);
        const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
        expect(cause.message).toContain('rolled back 13 step(s)');
        const removes = names(calls).filter((n) => n.startsWith('etcdRemoveMember'));
        // master-2's failed attempt threw before it was recorded; the retry after resume is
        expect(removes).toEqual(['etcdRemoveMember master-3', 'etcdRemoveMember master-2', 'etcdRemoveMember master-1']);
      },
    );
  });

  it('abort after the point of no return is refused: the migration pauses, and resume goes forward', async () => {
    const plan = testPlan({ cluster: uniqueCluster('ponr') });
    let failed = false;
    await withWorker(
      {
        before: (c) => {
          if (c.name === 'etcdRemoveMember' && c.args[0] === 'oldmaster-2' && !failed) {
            failed = true;
            throw ApplicationFailure.nonRetryable('simulated', 'UnsafeOperationError');
          }
        },
      },
      async (calls) => {
        const handle = await start(plan);
        // the hold is ~30 steps in: on a loaded machine (load 20 on 2 cores) that takes over 30 s
        const blocked = await waitStatus(plan, (s) => s.state === 'blocked', 'blocked', 120_000);
        expect(blocked.pointOfNoReturnPassed).toBe(true);
        const before = calls.length;
        await handle.signal(abortSignal, { reason: 'try to undo', by: 'frank', rollback: true });
        const refused = await waitStatus(plan, (s) => s.abortRefused !== undefined, 'abort refused');
        expect(refused.abortRefused).toContain('refused: past the point of no return');
        expect(refused.paused).toBe(true);
        expect(refused.abortReason).toBeUndefined();
        await sleep(500);
        expect(calls.length).toBe(before); // nothing rolled back, nothing run
        await handle.signal(resumeSignal, {});
        await handle.result();
        expect(names(calls).slice(before)).toContain('etcdRemoveMember oldmaster-3');
      },
    );
  });

  it('abort during the VIP switch, before the old keepalived stop, rolls back the partial step too', async () => {
    const plan = testPlan({ cluster: uniqueCluster('vipabort') });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const atKeepalived = new Promise<void>((r) => (reached = r));
    await withWorker(
      {
        before: async (c) => {
          if (c.name === 'configureKeepalived' && c.args[0] === 'master-3') {
            reached();
            await gate;
          }
        },
      },
      async (calls) => {
        const handle = await start(plan);
        await atKeepalived;
        await handle.signal(abortSignal, { reason: 'LB alarms', rollback: true });
        release();
        const err = await handle.result().catch((e: unknown) => e);
        expect(((err as WorkflowFailedError).cause as ApplicationFailure).message).toContain('rolled back');
        const seq = names(calls);
        // the old keepalived were never stopped; the VIP step was undone first
        expect(calls.some((c) => c.name === 'stopComponent' && c.args[1] === 'keepalived' && String(c.args[0]).startsWith('oldmaster'))).toBe(false);
        const undoStart = seq.indexOf('waitComponentHealthy oldmaster-1');
        expect(undoStart).toBeGreaterThan(seq.indexOf('configureKeepalived master-3'));
        expect(seq.slice(undoStart, undoStart + 10)).toEqual([
          'waitComponentHealthy oldmaster-1',
          'waitComponentHealthy oldmaster-2',
          'waitComponentHealthy oldmaster-3',
          'startComponent oldmaster-1',
          'startComponent oldmaster-2',
          'startComponent oldmaster-3',
          'stopComponent master-1',
          'stopComponent master-2',
          'stopComponent master-3',
          'verifyVip old',
        ]);
      },
    );
  });

  it('malformed messages never wedge the workflow: bad approvals are ignored, a proper one still works', async () => {
    const plan = testPlan({ cluster: uniqueCluster('badsig'), gates: ['switch-traffic'] });
    await withWorker({}, async () => {
      const handle = await start(plan);
      await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'switch-traffic', 'checkpoint');
      await handle.signal(approveSignal, { gate: 'switch-traffic', by: 42 } as never);
      await handle.signal(approveSignal, 'yes' as never);
      await handle.signal(pauseSignal, 17 as never);
      await handle.signal(resumeSignal, null as never);
      const bad = await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 7 } as never] }).catch((e: unknown) => e);
      expect(String((bad as WorkflowUpdateFailedError).cause?.message)).toContain('"by" must be a string');
      const s = await handle.query(statusQuery);
      expect(s.approvals).toEqual([]);
      expect(s.pendingCheckpoint?.gate).toBe('switch-traffic');
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'gina' }] });
      await handle.result();
      // an abort whose reason is not a string is still honoured, with a default reason
      const plan2 = testPlan({ cluster: uniqueCluster('badabort'), gates: ['switch-traffic'] });
      const h2 = await start(plan2);
      await waitStatus(plan2, (x) => x.pendingCheckpoint !== undefined, 'checkpoint 2');
      await h2.signal(abortSignal, { reason: { nested: true } } as never);
      const err = await h2.result().catch((e: unknown) => e);
      expect(((err as WorkflowFailedError).cause as ApplicationFailure).message).toContain('aborted: no reason given');
    });
  });

  it('--resume re-runs a half-done migration forward only: resume-mode preflight, abort refused', async () => {
    const plan = testPlan({ cluster: uniqueCluster('resume'), gates: ['switch-traffic'] });
    await withWorker({}, async (calls) => {
      const handle = await env.client.workflow.start(WORKFLOW_TYPE, {
        taskQueue: TASK_QUEUE,
        workflowId: workflowIdFor(plan.cluster),
        args: [{ plan, features: { resume: true } }],
      });
      const waiting = await waitStatus(plan, (s) => s.pendingCheckpoint?.gate === 'switch-traffic', 'checkpoint');
      expect(calls[0]).toEqual({ name: 'preflight', args: ['resume'] });
      expect(waiting.pointOfNoReturnPassed).toBe(true);
      await handle.signal(abortSignal, { reason: 'not sure', rollback: true });
      const s = await waitStatus(plan, (x) => x.abortRefused !== undefined, 'abort refused');
      expect(s.abortReason).toBeUndefined();
      await handle.executeUpdate(approveUpdate, { args: [{ gate: 'switch-traffic', by: 'hana' }] });
      await handle.signal(resumeSignal, {});
      await handle.result();
    });
  });
  it('with etcd over TLS, issues each new member its own certificates before the first membership change', async () => {
    const base = testPlan({ cluster: uniqueCluster('tls') });
    const https = <T extends { etcd: { clientURL: string; peerURL: string } }>(h: T): T => ({
      ...h,
      etcd: { ...h.etcd, clientURL: h.etcd.clientURL.replace('http:', 'https:'), peerURL: h.etcd.peerURL.replace('http:', 'https:') },
    });
    const plan: Plan = {
      ...base,
      oldMasters: base.oldMasters.map(https),
      newMasters: base.newMasters.map(https),
      etcd: { ...base.etcd, tls: { caFile: '/etc/cpm/ca.crt', certFile: '/etc/cpm/c.crt', keyFile: '/etc/cpm/c.key' } },
    };
    await withWorker({}, async (calls) => {
      await (await start(plan)).result();
      const seq = names(calls);
      expect(seq.filter((n) => n.startsWith('issueEtcdMemberCerts'))).toEqual([
        'issueEtcdMemberCerts master-1',
        'issueEtcdMemberCerts master-2',
        'issueEtcdMemberCerts master-3',
      ]);
      expect(seq.indexOf('issueEtcdMemberCerts master-3')).toBeLessThan(seq.indexOf('etcdSnapshot'));
      expect(seq.indexOf('uncordonNode master-3')).toBeLessThan(seq.indexOf('issueEtcdMemberCerts master-1'));
    });
  });
});

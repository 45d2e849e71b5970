/** etcdSnapshot: this migration's pre-change backup on the worker, with a sidecar that says whose it is. */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fsyncSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { failpoint } from '../../lib/failpoint';
import { discoverMembers, streamSnapshot, withEtcdClient } from '../../lib/etcd';
import type { Plan } from '../../plan/schema';
import { beat, workflowExecutionOfActivity } from '../../lib/heartbeat';
import type { SnapshotResult } from '../types';
import { seedsOf, type EtcdContext } from './context';

export function snapshotActivities(ctx: EtcdContext) {
  const { t, log, accessOf } = ctx;
  return {
    /**
     * Snapshot to plan.etcd.snapshotPath on the worker (temp file + rename).
     * A sidecar PATH.json records cluster, etcd cluster id, revision, sha256
     * and the workflow id and run id of the migration that took it. A snapshot
     * taken by THIS workflow run (a retry of this activity) of the same cluster,
     * whose file still matches, is kept (idempotent). Anything else there -- a
     * foreign file, or a snapshot left by an earlier (e.g. aborted) migration of
     * the same cluster -- is kept as PATH.cpmigrate-bak-<sha8> and a fresh one is
     * taken: it must be this migration's pre-change backup. Outside an activity
     * (no workflow identity) a snapshot is never reused.
     * `revision` is the store revision when the snapshot started.
     */
    async etcdSnapshot(plan: Plan): Promise<SnapshotResult> {
      const access = accessOf(plan);
      const file = plan.etcd.snapshotPath;
      const metaFile = `${file}.json`;
      const d = await discoverMembers(access, seedsOf(plan));
      const endpoint = d.answeredBy;
      const status = await withEtcdClient(access, [endpoint], (c) => c.maintenance.status());
      const clusterId = status.header.cluster_id;
      const run = workflowExecutionOfActivity();

      const existing = await stat(file).catch(() => undefined);
      if (existing) {
        const fileSha = await sha256File(file);
        const meta = await readFile(metaFile, 'utf8')
          .then((s) => JSON.parse(s) as { cluster?: string; etcdClusterId?: string; revision?: string; sha256?: string; workflowId?: string; runId?: string })
          .catch(() => undefined);
        // this cluster's snapshot, intact; reused only by the workflow run that took it (a retry of this activity)
        const ours =
          meta !== undefined && meta.cluster === plan.cluster && meta.etcdClusterId === clusterId && meta.sha256 === fileSha && Boolean(meta.revision);
        if (ours && meta.revision && run && meta.workflowId === run.workflowId && meta.runId === run.runId) {
          log(`snapshot ${file} already taken for this migration: kept`, { revision: meta.revision, ...run });
          return { path: file, sizeBytes: existing.size, revision: meta.revision, sha256: fileSha };
        }
        const aside = `${file}.cpmigrate-bak-${fileSha.slice(0, 8)}`;
        await rename(file, aside);
        if (ours) await rename(metaFile, `${aside}.json`).catch(() => undefined);
        const whose = ours
          ? `a snapshot of this cluster taken by ${meta.workflowId ? `another migration (workflow ${meta.workflowId}, run ${meta.runId ?? '?'})` : 'an unidentified run'}`
          : 'a snapshot file not taken by this migration';
        log(`${whose} was at ${file}: moved to ${aside}; taking a fresh one`);
      }

      await mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.part-${process.pid}-${Date.now()}`;
      const hash = createHash('sha256');
      const fd = openSync(tmp, 'w', 0o600);
      let lastBeat = 0;
      try {
        const { bytes } = await streamSnapshot(access, endpoint, t.snapshotMs, (chunk) => {
          writeSync(fd, chunk);
          hash.update(chunk);
          if (Date.now() - lastBeat > 1_000) {
            lastBeat = Date.now();
            beat({ snapshot: file });
          }
        });
        fsyncSync(fd);
        closeSync(fd);
        const sha256 = hash.digest('hex');
        failpoint('etcd.snapshot.after-stream');
        await rename(tmp, file);
        failpoint('etcd.snapshot.after-rename');
        const meta = {
          cluster: plan.cluster,
          etcdClusterId: clusterId,
          revision: status.header.revision,
          sha256,
          sizeBytes: bytes,
          fromMember: status.header.member_id,
          endpoint,
          takenAt: new Date().toISOString(),
          ...(run ? { workflowId: run.workflowId, runId: run.runId } : {}),
        };
        await writeFile(`${metaFile}.tmp`, `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });
        await rename(`${metaFile}.tmp`, metaFile);
        log(`etcd snapshot written to ${file}`, meta);
        return { path: file, sizeBytes: bytes, revision: meta.revision, sha256 };
      } catch (err) {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
    },
  };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .on('data', (b) => hash.update(b))
      .on('end', () => resolve())
      .on('error', reject);
  });
  return hash.digest('hex');
}

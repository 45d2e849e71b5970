/**
 * What the event history of a finished migration must show: every completed
 * step's activities completed once (a worker that died mid-activity may have
 * attempted one twice, but completed it once), and no secret material.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import YAML from 'yaml';
import { activityHistory } from './activity-history';
import type { Plan } from '../plan/schema';

/** Completed activity calls by their summary ("etcdJoinMember master-2"), counted. */
export async function completedActivities(client: Client, workflowId: string, runId: string): Promise<Map<string, number>> {
  return (await activityHistory(client, workflowId, runId)).completed;
}

/** The secret strings a history must never contain, read from the files the plan references. */
export function secretsOf(plan: Plan, extraFiles: string[] = []): Array<{ what: string; text: string }> {
  const out: Array<{ what: string; text: string }> = [{ what: 'a PEM private key', text: 'PRIVATE KEY-----' }];
  const add = (what: string, text: string | undefined) => {
    if (text && text.trim().length >= 8) out.push({ what, text: text.trim() });
  };
  try {
    const kc = YAML.parse(readFileSync(plan.kubeconfig, 'utf8')) as { users?: Array<{ user?: Record<string, string> }> };
    for (const u of kc.users ?? []) {
      add('the kubeconfig client key', u.user?.['client-key-data']?.slice(0, 64));
      add('the kubeconfig token', u.user?.token);
      add('the kubeconfig password', u.user?.password);
    }
  } catch {
    // no kubeconfig to read: nothing of it can leak
  }
  for (const f of extraFiles) {
    try {
      add(
        `the content of ${f}`,
        readFileSync(f, 'utf8')
          .split('\n')
          .find((l) => l.trim() && !l.startsWith('-----')),
      );
    } catch {
      // absent
    }
  }
  return out;
}

/** Secrets found in the JSON of a workflow's full history; empty when clean. */
export async function secretsInHistory(client: Client, workflowId: string, runId: string, secrets: Array<{ what: string; text: string }>): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const json = JSON.stringify(temporal.api.history.v1.History.toObject(temporal.api.history.v1.History.create(history), { bytes: String }));
  const decoded = json.replace(/"data":"([A-Za-z0-9+/=]+)"/g, (_, b64: string) => JSON.stringify(Buffer.from(b64, 'base64').toString('utf8')));
  return secrets.filter((s) => decoded.includes(s.text) || json.includes(s.text)).map((s) => s.what);
}

/** The worker logs of a demo/chaos run: STATE_DIR/worker-N.log (every worker incarnation appends to its own file). */
export function workerLogsIn(stateDir: string): string[] {
  try {
    return readdirSync(stateDir)
      .filter((f) => /^worker-\d+\.log$/.test(f))
      .sort()
      .map((f) => path.join(stateDir, f));
  } catch {
    return [];
  }
}

/** Secrets found in log files (as written, and JSON-escaped: the worker logs JSON lines); `bytes` says how much was read. */
export function secretsInLogs(files: readonly string[], secrets: Array<{ what: string; text: string }>): { leaks: string[]; bytes: number } {
  let bytes = 0;
  const leaks = new Set<string>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    bytes += Buffer.byteLength(text);
    for (const s of secrets) {
      if (text.includes(s.text) || text.includes(JSON.stringify(s.text).slice(1, -1))) leaks.add(`${s.what} (in ${path.basename(f)})`);
    }
  }
  return { leaks: [...leaks], bytes };
}

/**
 * `plan show --live`: connect to the hosts (read-only, over SSH with the
 * pinned host keys) and show, per new master, the diff between the file there
 * now and the file the migration would write. Uses the same render functions
 * as the activities, so what you see is what will be written.
 */
import { createTwoFilesPatch } from 'diff';
import { readFromOldMaster, renderApiserverConfig, renderNginxConfig } from '../activities/controlplane';
import type { HostOps } from '../lib/hostops';
import { masterOf, sshTargetOf } from '../plan/hosts';
import type { Plan } from '../plan/schema';

export interface LiveDiff {
  host: string;
  file: string;
  source?: string;
  changed: boolean;
  diff?: string;
  error?: string;
}

export async function liveDiffs(plan: Plan, ops: HostOps): Promise<LiveDiff[]> {
  const out: LiveDiff[] = [];
  // at run time --etcd-servers comes from the live member list; before the joins, the plan's new members
  const etcdServers = plan.newMasters.map((h) => h.etcd.clientURL).sort();
  const renderers: Array<{ file: string; render: (src: Awaited<ReturnType<typeof readFromOldMaster>>, host: ReturnType<typeof masterOf>) => string }> = [
    { file: plan.paths.apiserverConfig, render: (src, host) => renderApiserverConfig(plan, src, host, etcdServers).text },
    { file: plan.paths.nginxConfig, render: (src, host) => renderNginxConfig(plan, src, host).text },
  ];
  for (const { file, render } of renderers) {
    let src: Awaited<ReturnType<typeof readFromOldMaster>>;
    try {
      src = await readFromOldMaster(plan, ops, file);
    } catch (e) {
      for (const h of plan.newMasters) out.push({ host: h.name, file, changed: false, error: (e as Error).message });
      continue;
    }
    for (const h of plan.newMasters) {
      try {
        const host = masterOf(plan, h.name);
        const want = render(src, host);
        const have = (await ops.readFile(sshTargetOf(plan, host), file))?.toString('utf8');
        const changed = have !== want;
        out.push({
          host: h.name,
          file,
          source: src.host.name,
          changed,
          diff: changed
            ? createTwoFilesPatch(
                `${h.name}:${file} (now${have === undefined ? ': missing' : ''})`,
                `${h.name}:${file} (after, from ${src.host.name})`,
                have ?? '',
                want,
              )
            : undefined,
        });
      } catch (e) {
        out.push({ host: h.name, file, changed: false, error: (e as Error).message });
      }
    }
  }
  return out;
}

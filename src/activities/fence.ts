/**
 * Decommission fences an old master, not only stops it: after a reboot it
 * must neither take the VIP back nor try to rejoin etcd. So every component
 * is disabled at boot (systemd disable / static manifest parked / the plan's
 * `disable` command), the keepalived config is moved aside, and the removed
 * member's etcd data dir is moved aside. Idempotent: each part checks the host
 * first. A host that is gone (powered off, see lib/reachability) cannot be
 * fenced: the step says so, with what to do before it is powered on again.
 */
import { UnsafeOperationError } from '../errors';
import { discoverMembers, etcdAccess } from '../lib/etcd';
import { failpoint } from '../lib/failpoint';
import type { HostOps } from '../lib/hostops';
import { presumedDown } from '../lib/reachability';
import { bootCommand, serviceCommand } from '../lib/services';
import { shq } from '../lib/shell';
import { allMasters, masterOf, sshTargetOf } from '../plan/hosts';
import type { Plan } from '../plan/schema';
import { isRunning, serviceOf } from './component-state';
import { componentLabel, servicePortsOf } from './controlplane';
import { activityLog } from '../lib/heartbeat';
import type { ComponentName, StepOutcome } from './types';

const ORDER: ComponentName[] = ['keepalived', 'loadBalancer', 'apiserver', 'controllerManager', 'scheduler', 'etcd'];
export const FENCED_SUFFIX = '.cpmigrate-decommissioned';

export function createFenceActivities(deps: { hostOps: () => HostOps }) {
  async function fenceOldMaster(plan: Plan, hostName: string): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    if (host.side !== 'old') throw new UnsafeOperationError(`refusing to fence ${hostName}: it is not an old master`);
    const ops = deps.hostOps();
    const t = sshTargetOf(plan, host);

    // its etcd member must be gone first: a fenced data dir under a live member would lose that member's data
    const d = await discoverMembers(
      etcdAccess(plan, 5_000),
      allMasters(plan)
        .filter((h) => h.name !== hostName)
        .map((h) => h.etcd.clientURL),
    );
    const still = d.members.find((m) => m.peerURLs.includes(host.etcd.peerURL));
    if (still)
      throw new UnsafeOperationError(`refusing to fence ${hostName}: its etcd member ${still.name || still.id} is still in the member list; remove it first`);

    const down = await presumedDown(ops, t, servicePortsOf(plan, host), 2);
    if (down) {
      const conf = plan.paths.keepalivedConfig;
      const todo = `before powering it on again: disable its control-plane units, move ${conf} and ${plan.paths.etcdDataDir}/member aside`;
      activityLog().warn('old master could not be fenced', { host: hostName, why: down });
      return { summary: `${hostName} NOT fenced: ${down}; ${todo}`, changed: false, details: { fenced: false, presumedDown: down, todo } };
    }

    const done: string[] = [];
    const cannot: string[] = [];
    for (const c of ORDER) {
      const service = serviceOf(plan, c);
      if (await isRunning(ops, t, service)) {
        if (c === 'keepalived' || c === 'etcd') await ops.run(t, serviceCommand(service, 'stop'), { timeoutMs: 120_000 });
        else throw new UnsafeOperationError(`refusing to fence ${hostName}: ${componentLabel(c)} still runs there (decommission stops it first)`);
      }
      const cmd = bootCommand(service, 'disable');
      if (!cmd) cannot.push(componentLabel(c));
      else {
        await ops.run(t, cmd, { timeoutMs: 60_000 });
        done.push(componentLabel(c));
      }
    }
    failpoint('fence.after-disable', hostName);

    const conf = plan.paths.keepalivedConfig;
    const movedConf = await ops.run(t, `if [ -e ${shq(conf)} ]; then mv -f ${shq(conf)} ${shq(conf + FENCED_SUFFIX)} && echo moved; fi`, { timeoutMs: 30_000 });
    failpoint('fence.after-keepalived-neutralised', hostName);

    const member = `${plan.paths.etcdDataDir.replace(/\/+$/, '')}/member`;
    const movedData = await ops.run(t, `if [ -d ${shq(member)} ]; then mv ${shq(member)} ${shq(member)}.cpmigrate-removed-$(date +%s) && echo moved; fi`, {
      timeoutMs: 60_000,
    });
    failpoint('fence.after-data-dir-aside', hostName);

    const parts = [
      done.length ? `disabled at boot: ${done.join(', ')}` : '',
      cannot.length ? `no disable command in the plan for ${cannot.join(', ')} (they may start at boot)` : '',
      movedConf.stdout.includes('moved') ? `${conf} moved to ${conf}${FENCED_SUFFIX}` : `${conf} already gone`,
      movedData.stdout.includes('moved') ? `${member} moved aside` : `no ${member} (already moved aside)`,
    ].filter(Boolean);
    return { summary: `${hostName} fenced: ${parts.join('; ')}`, changed: true, details: { fenced: true, disabled: done, cannotDisable: cannot } };
  }
  return { fenceOldMaster };
}

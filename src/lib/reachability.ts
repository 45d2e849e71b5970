/**
 * Is an old master gone (powered off, unplugged), rather than just slow?
 * Only a host that refuses SSH *and* answers on none of its service ports
 * from here is presumed down: if it served anyone (API, LB, etcd), at least
 * one port would answer. Used by decommission so a dead old master does not
 * wedge the migration, and named as a presumption in the step summary.
 */
import { HostUnreachableError } from '../errors';
import type { HostOps } from './hostops';
import type { SshTarget } from '../plan/hosts';
import { tcpAnswers } from './net';
import { sleep } from './sleep';

export { tcpAnswers } from './net';

/** undefined when the host is reachable; otherwise why it is presumed down. */
export async function presumedDown(ops: HostOps, t: SshTarget, servicePorts: number[], tries = 3): Promise<string | undefined> {
  let last = '';
  for (let i = 0; i < tries; i++) {
    try {
      await ops.run(t, 'true', { timeoutMs: 15_000 });
      return undefined;
    } catch (e) {
      if (!(e instanceof HostUnreachableError)) return undefined; // it answers, with some other problem
      last = e.message;
    }
    await sleep(2_000);
  }
  const open = await Promise.all(servicePorts.map((p) => tcpAnswers(t.address, p)));
  const answering = servicePorts.filter((_, i) => open[i]);
  if (answering.length) return undefined;
  return `${t.name} (${t.address}) is unreachable: SSH ${last.replace(/^cannot connect to [^:]+: /, '')} (${tries} tries), and none of its ports ${servicePorts.join(', ')} answers`;
}

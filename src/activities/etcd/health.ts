/** etcdHealth (never throws for an unhealthy cluster) and etcdClientURLs (for --etcd-servers and calico). */
import { discoverMembers, errorText, etcdHealth as probeEtcdHealth, voterEndpoints } from '../../lib/etcd';
import { isFailed } from '../../plan/hosts';
import type { Plan } from '../../plan/schema';
import type { EtcdHealthReport } from '../types';
import { seedsOf, type EtcdContext } from './context';

export function healthActivities(ctx: EtcdContext) {
  const { accessOf } = ctx;
  return {
    /** Probe every member; never throws for an unhealthy cluster: problems are reported. */
    async etcdHealth(plan: Plan): Promise<EtcdHealthReport> {
      const access = accessOf(plan);
      try {
        const d = await discoverMembers(access, seedsOf(plan));
        // the members of old masters marked failed are reported on, but their state is not the cluster's problem
        const failedPeers = new Set(plan.oldMasters.filter(isFailed).map((h) => h.etcd.peerURL));
        const deadIds = d.members.filter((m) => m.peerURLs.some((u) => failedPeers.has(u))).map((m) => m.id);
        return await probeEtcdHealth(access, d.endpoints, deadIds.length ? { deadIds } : {});
      } catch (err) {
        return { healthy: false, members: [], alarms: [], problems: [`etcd health unknown: ${errorText(err)}`] };
      }
    },

    /** Client URLs of the started voting members, sorted: for --etcd-servers and calico. */
    async etcdClientURLs(plan: Plan): Promise<string[]> {
      const d = await discoverMembers(accessOf(plan), seedsOf(plan));
      const urls = voterEndpoints(d.members);
      if (urls.length === 0) throw new Error('the etcd member list has no started voting member with a client URL');
      return urls;
    },
  };
}

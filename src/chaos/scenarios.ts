/**
 * The fault matrix: each scenario is one lab migration (src/demo/run.ts) with
 * its faults. Worker failpoints re-use one migration: every worker is armed
 * with the same list and a shared fired-file, so each death moves on to the
 * next failpoint. Environment faults act on the lab hosts (src/lab/faults.ts).
 */
import { afterStep as after, atStep as at, type Fault, type FaultContext } from '../demo/faults';
import type { LabShape } from '../lab/layout';
import { daemonPid, killDaemon, killSshd, linkDown, linkUp, powerOff, reboot, restartSshd } from '../lab/faults';
import type { MigrationStatus } from '../shared';

export interface Scenario {
  name: string;
  what: string;
  failpoints?: string;
  faults?: Fault[];
  rollbackAt?: 'switch-traffic';
  /** start with worker-2's kubelet and kube-proxy pointing at an old master; the client-fixes checkpoint fixes them */
  misconfigureClients?: boolean;
  /** names that must have fired (a scenario that never reaches its fault proves nothing) */
  mustFire?: string[];
  /** the lab's shape (default: the runbook's 3 → 3) */
  shape?: LabShape;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Spread over etcd, certs, control plane, VIP, decommission, calico, cleanup: what `npm test` runs. */
export const CI_FAILPOINTS = [
  'etcd.snapshot.after-stream',
  'etcd.join.after-member-add',
  'etcd.join.after-start',
  'certs.apiserver.after-key',
  'config.apiserver.after-write',
  'start.loadBalancer.after-start',
  'calico.after-patch',
  'start.keepalived.after-start',
  'stop.keepalived.after-stop',
  'etcd.remove.after-member-remove',
  'fence.after-keepalived-neutralised',
  'kube.label.after-patch',
];

function temporalKill(when: (s: MigrationStatus) => boolean): Fault {
  return { name: 'Temporal server kill -9 and restart (SQLite)', when, act: (c: FaultContext) => c.restartTemporal(3_000) };
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'worker-failpoints',
    what: 'the worker SIGKILLs itself at every failpoint the migration reaches, once each; a fresh worker takes over',
    failpoints: '*',
  },
  {
    name: 'temporal-kill',
    what: 'the Temporal dev server is killed -9 during the etcd joins and restarted on its SQLite file',
    faults: [temporalKill(at('etcd-join/master-2'))],
  },
  {
    name: 'etcd-kill-during-join',
    what: "master-2's etcd is killed -9 while it joins; the join starts it again",
    faults: [
      {
        name: 'kill -9 etcd on master-2 during its join',
        when: at('etcd-join/master-2'),
        act: async (c) => {
          for (let i = 0; i < 100 && !daemonPid('master-2', 'etcd'); i++) await sleep(50);
          c.log(killDaemon('master-2', 'etcd') ? 'etcd on master-2 killed' : 'etcd on master-2 was not running yet');
        },
      },
    ],
  },
  {
    name: 'sshd-kill-during-push',
    what: "master-2's sshd is killed in the middle of the PKI push and restarted 15 s later",
    faults: [
      {
        name: 'kill sshd on master-2 during the PKI copy, restart after 15 s',
        when: at('certificates/master-2'),
        act: async () => {
          await killSshd('master-2');
          await sleep(15_000);
          await restartSshd('master-2');
        },
      },
    ],
  },
  {
    name: 'network-cut',
    what: 'master-2 is cut off the network (link down) for 60 s during the per-host steps, then restored',
    faults: [
      {
        name: 'master-2 link down for 60 s',
        when: at('apiserver/master-1'),
        act: async () => {
          await linkDown('master-2');
          await sleep(60_000);
          await linkUp('master-2');
        },
      },
    ],
  },
  {
    name: 'old-master-power-off',
    what: 'oldmaster-2 is powered off for good after the VIP moved; decommission still finishes and removes its member',
    faults: [{ name: 'power off oldmaster-2', when: after('vip-failover'), act: () => powerOff('oldmaster-2') }],
  },
  {
    name: 'old-master-reboot',
    what: 'oldmaster-1 reboots after its decommission: nothing comes back (fenced), it neither takes the VIP nor rejoins etcd',
    faults: [
      {
        name: 'reboot oldmaster-1',
        when: after('decommission-old/oldmaster-1'),
        act: async (c) => c.log(`oldmaster-1 booted: ${(await reboot('oldmaster-1')) || 'nothing enabled'}`),
      },
    ],
  },
  {
    name: 'rollback',
    what: 'abort --rollback at switch-traffic, the worker dying at failpoints inside the compensations; the cluster is back in its "before" state',
    rollbackAt: 'switch-traffic',
    // these fire only on the way back: the forward path up to switch-traffic stops nothing and removes no member
    failpoints: 'stop.*,etcd.remove.*',
    mustFire: ['etcd.remove.after-member-remove'],
  },
  {
    name: 'client-fixes',
    what: "worker-2's kubelet and the kube-proxy ConfigMap start pointing at an old master; the worker dies inside each client fix and inside its revert (abort --rollback at switch-traffic)",
    misconfigureClients: true,
    rollbackAt: 'switch-traffic',
    failpoints: 'clientfix.*',
    mustFire: ['clientfix.file.after-write', 'clientfix.service.after-restart', 'clientfix.kubeproxy.after-patch', 'clientfix.revert.after-restore'],
  },
];

/** Every environment fault of the matrix in one migration, each at its own step (the quick way through them). */
export const ENVIRONMENT: Scenario = {
  name: 'environment',
  what: 'the environment faults in one migration: etcd killed during a join, sshd killed mid-push, a new master cut off for 60 s, the Temporal server killed, an old master powered off after the VIP moved, another rebooted after its decommission',
  faults: SCENARIOS.filter((s) => s.faults && s.name !== 'network-cut')
    .flatMap((s) => s.faults ?? [])
    .concat([
      {
        name: 'master-3 link down for 60 s',
        when: at('apiserver/master-1'),
        act: async () => {
          await linkDown('master-3');
          await sleep(60_000);
          await linkUp('master-3');
        },
      },
    ]),
};

/**
 * The whole matrix in two migrations, which is what `npm run chaos` runs by
 * default: every worker failpoint the forward path reaches together with
 * every environment fault (each at its own step), then the rollback with the
 * compensations' failpoints. The separate scenarios above isolate one fault
 * each when one of these fails.
 */
export const MATRIX: Scenario = {
  name: 'matrix',
  what: `every worker failpoint the forward path reaches, once each, and in the same migration every environment fault (${ENVIRONMENT.faults?.map((f) => f.name).join('; ')})`,
  failpoints: '*',
  faults: ENVIRONMENT.faults ?? [],
};

/** What e2e.test.ts runs in `npm test`: a dozen failpoints and the server kill in one migration. */
export const CI_SCENARIO: Scenario = {
  name: 'ci-subset',
  what: `${CI_FAILPOINTS.length} failpoints across etcd, certs, control plane, VIP, decommission, calico and cleanup, and a Temporal server kill, in one migration`,
  failpoints: CI_FAILPOINTS.join(','),
  faults: [temporalKill(at('apiserver-lb/master-2'))],
  mustFire: CI_FAILPOINTS,
};

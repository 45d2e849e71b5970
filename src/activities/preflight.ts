/**
 * Preflight: read-only checks of everything the runbook checks before it
 * starts, all reported together as named blockers (src/activities/reasons.ts).
 * A probe that fails is itself a blocker with an `...Unknown` reason; nothing
 * here throws except for a plan that cannot be used at all. Fixes are offered
 * as text (`fix`) and, for clients of the apiserver, as exact changes
 * (`clientFixes`, src/activities/preflight-clients.ts) that only the approved
 * client-fixes step applies.
 */
import { readFile } from 'node:fs/promises';
import { PlanMismatchError } from '../errors';
import type { HostOps } from '../lib/hostops';
import { expandHome } from '../lib/paths';
import { kubeProxyServerFromData } from '../lib/kube';
import { shq } from '../lib/shell';
import { certSans } from '../lib/x509';
import { addedMasters, isFailed, keptMasters, liveOldMasters, sshTargetOf } from '../plan/hosts';
import type { Host, Plan } from '../plan/schema';
import { createEtcdActivities } from './etcd';
import { beat } from '../lib/heartbeat';
import { createKubeActivities } from './kube';
import { createKubeClientActivities } from './kube-clients';
import { checkClients, type ClientCheckKube } from './preflight-clients';
import { checkRollingEtcdServers } from './preflight-rolling';
import { checkKeepalived, checkPlanSanity, checkRewritable } from './preflight-live';
import { Reasons, type Reason } from './reasons';
import type { Blocker, EtcdHealthReport, PreflightReport } from './types';

export interface PreflightKube extends ClientCheckKube {
  nodeExists(plan: Plan, node: string): Promise<boolean>;
}

export interface PreflightDeps {
  hostOps: () => HostOps;
  /** default: the kube activities (src/activities/kube.ts) */
  kube?: PreflightKube;
  /** default: the etcd activities' etcdHealth */
  etcdHealth?: (plan: Plan) => Promise<EtcdHealthReport>;
}

type AnyHost = Pick<Host, 'name' | 'address' | 'ssh'>;

class Report {
  readonly blockers: Blocker[] = [];
  readonly warnings: Blocker[] = [];
  readonly checked: string[] = [];
  block(reason: Reason, subject: string, message: string, fix?: string): void {
    this.blockers.push({ reason, subject, message, ...(fix ? { fix } : {}) });
  }
  warn(reason: Reason, subject: string, message: string): void {
    this.warnings.push({ reason, subject, message });
  }
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';

/** Does `server` (a URL) point at host:port? */
function pointsAt(server: string | undefined, host: string, port: number): boolean {
  if (!server) return false;
  try {
    const u = new URL(server);
    return u.hostname === host && Number(u.port || (u.protocol === 'https:' ? 443 : 80)) === port;
  } catch {
    return false;
  }
}

const isHttps = (url: string) => url.startsWith('https:');

/** URL-normalized host (lower-case DNS, bracketed compressed IPv6) of a URL or a bare address; '' if unparsable. */
function hostnameOf(urlOrHost: string): string {
  try {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(urlOrHost)) return new URL(urlOrHost).hostname;
    return new URL(`http://${urlOrHost.includes(':') ? `[${urlOrHost}]` : urlOrHost}/`).hostname;
  } catch {
    return '';
  }
}

/** The DNS and IP SANs of a PEM certificate, normalized like hostnameOf. */
export async function sanHostsOf(pem: string, what: string): Promise<string[]> {
  return (await certSans(pem, what))
    .filter((s) => s.type === 'dns' || s.type === 'ip')
    .map((s) => hostnameOf(s.value))
    .filter(Boolean);
}

function serverOf(kubeconfigText: string): string | undefined {
  return kubeProxyServerFromData({ 'kubeconfig.conf': kubeconfigText });
}

export function createPreflightActivities(deps: PreflightDeps) {
  async function kube(): Promise<PreflightKube> {
    if (deps.kube) return deps.kube;
    return { ...createKubeActivities(), ...createKubeClientActivities() };
  }
  async function etcdHealth(plan: Plan): Promise<EtcdHealthReport> {
    if (deps.etcdHealth) return deps.etcdHealth(plan);
    return createEtcdActivities({ hostOps: deps.hostOps }).etcdHealth(plan);
  }

  /**
   * @param mode 'resume': the cluster may be part-way through an earlier migration of this same
   *   plan (its new masters already etcd members, some old ones already removed); 'fresh' (default):
   *   etcd must be exactly the old masters.
   */
  async function preflight(plan: Plan, mode: 'fresh' | 'resume' = 'fresh'): Promise<PreflightReport> {
    if (!plan.oldMasters.length || !plan.newMasters.length) throw new PlanMismatchError('the plan lists no old or no new masters: nothing to check');
    const ops = deps.hostOps();
    const r = new Report();
    const vip = plan.loadBalancer.vip;
    const lbPort = plan.loadBalancer.port;
    const lbURL = `https://${vip}:${lbPort}`;
    const done = (what: string) => {
      r.checked.push(what);
      beat({ checked: what });
    };

    /** SSH first: a host we cannot reach gets one blocker, not one per file. */
    const reachable = new Set<string>();
    /** resume: old masters that do not answer; fine if their etcd member is already gone (decided below) */
    const unreachableOld: Array<{ name: string; peerURL: string; why: string }> = [];
    // a failed (dead) old master is never contacted; a kept host (in both lists) is checked once, as an old master
    const failed = plan.oldMasters.filter(isFailed);
    const hosts: Array<AnyHost & { role: 'old' | 'new' | 'worker' }> = [
      ...liveOldMasters(plan).map((h) => ({ ...h, role: 'old' as const })),
      ...addedMasters(plan).map((h) => ({ ...h, role: 'new' as const })),
      ...plan.workerNodes.map((h) => ({ ...h, role: 'worker' as const })),
    ];
    await Promise.all(
      hosts.map(async (h) => {
        const t = sshTargetOf(plan, h);
        try {
          await ops.run(t, 'true', { timeoutMs: t.connectTimeoutMs + 5_000 });
          reachable.add(h.name);
        } catch (e) {
          const name = e instanceof Error ? e.name : '';
          if (name.includes('HostKey')) r.block(Reasons.SshHostKeyMismatch, h.name, `${h.name} (${h.address}): ${errText(e)}`);
          else if (name === 'SshAuthError') r.block(Reasons.SshAuthFailed, h.name, `${h.name} (${h.address}): ${errText(e)}`);
          else if (mode === 'resume' && h.role === 'old')
            unreachableOld.push({
              name: h.name,
              peerURL: plan.oldMasters.find((o) => o.name === h.name)?.etcd.peerURL ?? '',
              why: `${h.name} (${h.address}:${t.port}): ${errText(e)}`,
            });
          else if (h.role === 'old') {
            r.block(
              Reasons.SshUnreachable,
              h.name,
              `${h.name} (${h.address}:${t.port}): ${errText(e)}`,
              `if ${h.name} is dead (powered off, hardware failure), mark it in the plan: oldMasters[${plan.oldMasters.findIndex((o) => o.name === h.name)}].state: failed — its etcd member is then removed first, behind the remove-failed checkpoint, and none of its services are touched`,
            );
          } else r.block(Reasons.SshUnreachable, h.name, `${h.name} (${h.address}:${t.port}): ${errText(e)}`);
        }
      }),
    );
    done(`SSH with the pinned host key to ${hosts.length} hosts${failed.length ? ` (not to ${failed.map((h) => h.name).join(', ')}: marked failed)` : ''}`);

    const onReachable = async (hs: typeof hosts, fn: (h: (typeof hosts)[number]) => Promise<void>) =>
      Promise.all(hs.filter((h) => reachable.has(h.name)).map((h) => fn(h).catch(() => undefined)));

    // plan sanity, and the old masters' live configs (keepalived, nginx, kube-apiserver) against what the migration will do
    checkPlanSanity(plan, r);
    done('plan: isolation taint key, apiserverURLs on their hosts, absolute host paths');
    if (mode === 'fresh') {
      const olds = plan.oldMasters.filter((h) => reachable.has(h.name));
      await checkKeepalived(plan, ops, olds, r).catch((e: unknown) =>
        r.block(Reasons.KeepalivedConfigUnknown, 'keepalived', `cannot check keepalived: ${errText(e)}`),
      );
      done(
        `keepalived on the old masters: VRRP ${plan.keepalived.virtualRouterId} on ${plan.keepalived.interface}, password, peers, priorities, carried blocks`,
      );
      await checkRewritable(plan, ops, olds, r);
      done(`nginx upstream ${plan.loadBalancer.upstreamName} and kube-apiserver flags on the old masters can be rewritten`);
      await checkRollingEtcdServers(plan, ops, olds, r);
    }

    // fstab on the new masters
    await onReachable(
      hosts.filter((h) => h.role === 'new'),
      async (h) => {
        try {
          const res = await ops.run(sshTargetOf(plan, h), `findmnt --verify --tab-file ${shq(plan.paths.fstab)} 2>&1`, {
            allowFailure: true,
            timeoutMs: 30_000,
          });
          if (res.exitCode === 127)
            r.block(Reasons.FstabUnknown, h.name, `${h.name}: findmnt is not installed (util-linux); cannot verify ${plan.paths.fstab}`);
          else if (res.exitCode !== 0) {
            r.block(
              Reasons.FstabInvalid,
              h.name,
              `${h.name}: findmnt --verify found problems in ${plan.paths.fstab}: ${res.stdout.trim().split('\n').slice(0, 8).join(' | ')}`,
            );
          }
        } catch (e) {
          r.block(Reasons.FstabUnknown, h.name, `${h.name}: cannot verify ${plan.paths.fstab}: ${errText(e)}`);
        }
      },
    );
    done(`${plan.paths.fstab} on the new masters passes findmnt --verify`);

    // https etcd: each new master needs its OWN etcd server/peer pair (SANs = its address) before etcd-join
    const tlsNew = plan.newMasters.filter((h) => isHttps(h.etcd.clientURL) || isHttps(h.etcd.peerURL));
    if (tlsNew.length) {
      const etcdPki = `${plan.paths.pkiDir.replace(/\/+$/, '')}/etcd`;
      await onReachable(
        hosts.filter((h) => h.role === 'new' && tlsNew.some((n) => n.name === h.name)),
        async (h) => {
          const host = tlsNew.find((n) => n.name === h.name) as Host;
          const t = sshTargetOf(plan, h);
          const pairs = [
            ...(isHttps(host.etcd.clientURL) ? [{ kind: 'server', url: host.etcd.clientURL, phase: 'etcd-server' }] : []),
            ...(isHttps(host.etcd.peerURL) ? [{ kind: 'peer', url: host.etcd.peerURL, phase: 'etcd-peer' }] : []),
          ];
          const needed = [`${etcdPki}/ca.crt`, ...pairs.flatMap((p) => [`${etcdPki}/${p.kind}.crt`, `${etcdPki}/${p.kind}.key`])];
          const fix =
            `on ${h.name}: ${pairs.map((p) => `kubeadm init phase certs ${p.phase}`).join(' && ')} (kubeadm; needs the etcd CA in ${etcdPki}/ca.crt, ca.key and ` +
            `${h.address} in the SANs), or issue them with your PKI tooling, signed by the etcd CA, with SANs including ${h.address}`;
          let missing: string[];
          try {
            const res = await ops.run(t, needed.map((p) => `[ -e ${shq(p)} ] || echo ${shq(p)}`).join('; '), { timeoutMs: 30_000 });
            missing = res.stdout
              .split('\n')
              .map((l) => l.trim())
              .filter(Boolean);
          } catch (e) {
            r.block(Reasons.EtcdPerHostCertsUnknown, h.name, `${h.name}: cannot check for its etcd certificates in ${etcdPki}: ${errText(e)}`);
            return;
          }
          if (missing.length) {
            r.warn(
              Reasons.EtcdPerHostCertsMissing,
              h.name,
              `${h.name}: missing ${missing.join(', ')}: the etcd-certs step issues them from the etcd CA before its member joins (per-host server/peer pairs are never copied from an old master: their SANs name the old master); to provision them yourself instead: ${fix}`,
            );
            return;
          }
          // SANs, read on the worker (lib/x509) from the certificate itself
          for (const p of pairs) {
            const file = `${etcdPki}/${p.kind}.crt`;
            const want = hostnameOf(p.url);
            try {
              const pem = await ops.readFile(t, file);
              if (!pem) {
                r.warn(Reasons.EtcdPerHostCertsUnknown, h.name, `${h.name}: could not read the SANs of ${file} (it is gone); check that they include ${want}`);
                continue;
              }
              const sans = await sanHostsOf(pem.toString('utf8'), `${h.name}:${file}`);
              if (want && !sans.includes(want)) {
                r.warn(
                  Reasons.EtcdPerHostCertSANMismatch,
                  h.name,
                  `${h.name}: ${file} does not list ${want} (from ${p.url}) in its SANs (${sans.join(', ') || 'none'}): the etcd-certs step re-issues it (with a backup) before the member joins`,
                );
              }
            } catch (e) {
              r.warn(Reasons.EtcdPerHostCertsUnknown, h.name, `${h.name}: could not read the SANs of ${file}: ${errText(e)}`);
            }
          }
        },
      );
      // the etcd-certs step signs member certificates with the etcd CA of an old master
      const caFiles = [`${etcdPki}/ca.crt`, `${etcdPki}/ca.key`];
      const withCa = await Promise.all(
        hosts
          .filter((h) => h.role === 'old' && reachable.has(h.name))
          .map(async (h) => {
            const res = await ops
              .run(sshTargetOf(plan, h), caFiles.map((p) => `[ -e ${shq(p)} ] || echo ${shq(p)}`).join('; '), { timeoutMs: 30_000 })
              .catch(() => undefined);
            return res && res.stdout.trim() === '' ? h.name : undefined;
          }),
      );
      if (!withCa.some(Boolean)) {
        r.block(
          Reasons.EtcdCaMissing,
          'etcd',
          `etcd is https but no reachable old master has the etcd CA (${caFiles.join(', ')}) to issue the new members' certificates`,
          "copy the etcd CA to an old master, or provision the new masters' etcd/server.* and etcd/peer.* yourself",
        );
      }
      done(`etcd over https: the etcd CA is on ${withCa.filter(Boolean).join(', ') || 'no old master'}; new masters' member certificates checked (${etcdPki})`);
    }

    // the worker's own kubeconfig must survive the decommission
    try {
      const path = expandHome(plan.kubeconfig);
      const server = serverOf(await readFile(path, 'utf8'));
      const host = server ? new URL(server).hostname : '';
      const old = plan.oldMasters.filter((h) => !keptMasters(plan).includes(h)).find((h) => h.address === host || h.name === host);
      if (old) {
        r.block(
          Reasons.AdminKubeconfigNotUsingLB,
          'kubeconfig',
          `the plan's kubeconfig ${plan.kubeconfig} uses ${server} on ${old.name}, which the migration decommissions`,
          `point it at ${lbURL}`,
        );
      } else if (!pointsAt(server, vip, lbPort)) {
        r.warn(
          Reasons.AdminKubeconfigNotUsingLB,
          'kubeconfig',
          `the plan's kubeconfig ${plan.kubeconfig} uses ${server ?? '(no server)'}, not the LB ${lbURL}: make sure it survives the move`,
        );
      }
    } catch (e) {
      r.warn(Reasons.AdminKubeconfigNotUsingLB, 'kubeconfig', `cannot read the plan's kubeconfig ${plan.kubeconfig}: ${errText(e)}`);
    }

    // Kubernetes API: Nodes; then every client of the apiserver (kubelets on every Node, kube-proxy, cm/scheduler)
    let k: PreflightKube | undefined;
    try {
      k = await kube();
    } catch (e) {
      r.block(Reasons.KubeProxyConfigUnknown, 'kube', `cannot build a Kubernetes client: ${errText(e)}`);
    }
    const clients = await checkClients({ plan, ops, kube: k, reachable, sink: { block: (b) => r.blockers.push(b), warn: (b) => r.warnings.push(b), done } });
    if (k) {
      await Promise.all(
        addedMasters(plan).map(async (h) => {
          try {
            if (!(await k.nodeExists(plan, h.name)))
              r.block(Reasons.NodeNotFound, h.name, `new master ${h.name} is not a registered Node (join it to the cluster first)`);
          } catch (e) {
            r.block(Reasons.NodeLookupUnknown, h.name, `cannot look up Node ${h.name}: ${errText(e)}`);
          }
        }),
      );
      done(`new masters ${plan.newMasters.map((h) => h.name).join(', ')} are Nodes`);
    }

    // etcd
    try {
      const health = await etcdHealth(plan);
      if (!health.healthy) r.block(Reasons.EtcdUnhealthy, 'etcd', `etcd is not healthy: ${health.problems.join('; ') || 'unknown problem'}`);
      const learners = health.members.filter((m) => m.isLearner);
      if (learners.length)
        r.block(
          Reasons.EtcdLearnerPresent,
          'etcd',
          `etcd has learner(s) ${learners.map((m) => m.name || m.id).join(', ')} before the migration: finish or remove them first`,
        );
      const peer = (u: string) => u.replace(/\/+$/, '');
      const live = new Set(health.members.flatMap((m) => m.peerURLs.map(peer)));
      // a failed master's member: removed first by the migration; it must not answer (a live member marked failed would be left running)
      for (const f of failed) {
        const m = health.members.find((x) => x.peerURLs.map(peer).includes(peer(f.etcd.peerURL)));
        if (!m) r.warn(Reasons.EtcdMembersMismatch, f.name, `${f.name} is marked failed and its etcd member is already gone: nothing to remove`);
        else if (m.reachable) {
          r.block(
            Reasons.FailedMasterAnswers,
            f.name,
            `${f.name} is marked failed (state: failed) but its etcd member ${m.name || m.id} answers on ${m.clientURLs.join(', ')}: it is not dead, and a failed master's services are never stopped`,
            `if ${f.name} is up, remove state: failed from oldMasters and let the migration decommission it; if it must go without being touched, power it off first`,
          );
        }
      }
      const planned = new Set(plan.oldMasters.filter((h) => !isFailed(h) || live.has(peer(h.etcd.peerURL))).map((h) => peer(h.etcd.peerURL)));
      // resume after the old machines were switched off: an old master whose member is gone is decommissioned already
      for (const u of unreachableOld) {
        if (live.has(peer(u.peerURL))) r.block(Reasons.SshUnreachable, u.name, `${u.why}; its etcd member is still in the cluster, so it cannot be skipped`);
        else r.warn(Reasons.SshUnreachable, u.name, `${u.why}; its etcd member is already removed: treated as decommissioned (its services are not touched)`);
      }
      let missing = [...planned].filter((u) => !live.has(u));
      let extra = health.members.filter((m) => !m.peerURLs.some((u) => planned.has(peer(u))));
      if (mode === 'resume') {
        // part-way: old members may be gone and new ones present, but nothing outside the plan
        const newPeers = new Set(plan.newMasters.map((h) => peer(h.etcd.peerURL)));
        missing = [];
        extra = extra.filter((m) => !m.peerURLs.some((u) => newPeers.has(peer(u))));
      }
      if (missing.length || extra.length) {
        r.block(
          Reasons.EtcdMembersMismatch,
          'etcd',
          `the etcd member list is not the plan's old masters${missing.length ? `; missing: ${missing.join(', ')}` : ''}${extra.length ? `; not in the plan's old masters: ${extra.map((m) => `${m.name || m.id} ${m.peerURLs.join(',')}`).join(', ')}` : ''}`,
        );
      }
    } catch (e) {
      r.block(Reasons.EtcdHealthUnknown, 'etcd', `cannot determine etcd health: ${errText(e)}`);
    }
    done(
      `etcd: every member started and reachable${failed.length ? ` (but the failed ${failed.map((h) => h.name).join(', ')}, which must not answer)` : ''}, one leader, no alarms, no learner, members = ${mode === 'resume' ? "the plan's old and/or new masters (resume)" : 'old masters'}`,
    );

    return { blockers: r.blockers, warnings: r.warnings, checked: r.checked, clientFixes: clients.fixes, nodes: clients.nodes };
  }

  return { preflight };
}

export type PreflightActivities = ReturnType<typeof createPreflightActivities>;

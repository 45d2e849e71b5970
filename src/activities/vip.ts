/**
 * The VIP: keepalived on a new master joining the old masters' VRRP instance,
 * and verification of who holds the VIP.
 *
 * Both sides must hear each other, or the VIP ends up on two hosts. So the new
 * config copies the old masters' transport: multicast when they use multicast;
 * unicast with every master as a peer when they use unicast. If the old
 * masters' unicast peer lists do not include the new masters, the old side
 * would not hear the new one: we REFUSE (UnsafeOperationError) and say how to
 * fix it, rather than rewriting and reloading keepalived on the old masters,
 * because the plan's service commands have no reload and a restart of the old
 * VIP holder is itself a failover.
 *
 * The VRRP password is read from plan.keepalived.authPassFile on the worker at
 * activity time and is never returned, logged or put in an error message.
 */
import { readFile } from 'node:fs/promises';
import { PlanMismatchError, UnsafeOperationError } from '../errors';
import { pushOptionsLike, statPaths, type PathMeta } from '../lib/file-meta';
import type { HostOps } from '../lib/hostops';
import { addedMasters, allMasters, liveOldMasters, masterOf, reachableMasters, sshTargetOf } from '../plan/hosts';
import type { Plan } from '../plan/schema';
import type { VipReport } from './contract';
import { converge } from './component-state';
import { defaultReadyz, readCa, type ReadyzProbe } from './controlplane';
import { failpoint } from '../lib/failpoint';
import { activityLog, beat, cancelled } from '../lib/heartbeat';
import { carryKeepalived, describeRefused, type Carried } from './keepalived-carry';
import { parseKeepalived, renderKeepalived, vrrpInstances, type Stmt, type VrrpInstance } from './keepalived-conf';
import { waitTimer } from '../lib/waits';
import { describeProbe } from './readyz';
import { vipHolders } from './vip-holders';
import type { StepOutcome } from './types';
import { sleep } from '../lib/sleep';

export interface VipDeps {
  hostOps: () => HostOps;
  /** how long verifyVip waits for the expected state (default 60 s) */
  verifyDeadlineMs?: number;
  pollMs?: number;
  /** the HTTPS /readyz probe (default: from the worker); tests replace it */
  readyz?: ReadyzProbe;
}

export interface OldInstance {
  host: string;
  instance: VrrpInstance;
  /** the whole parsed file (global vrrp_script blocks live outside the instance) */
  stmts: Stmt[];
  /** keepalived.conf's mode and owner there */
  meta?: PathMeta;
}

async function oldInstances(plan: Plan, ops: HostOps): Promise<OldInstance[]> {
  const file = plan.paths.keepalivedConfig;
  const out: OldInstance[] = [];
  const why: string[] = [];
  for (const h of plan.oldMasters) {
    let text: string | undefined;
    try {
      text = (await ops.readFile(sshTargetOf(plan, h), file))?.toString('utf8');
    } catch (e) {
      why.push(`${h.name}: ${(e as Error).message}`);
      continue;
    }
    if (text === undefined) {
      why.push(`${h.name}: no ${file}`);
      continue;
    }
    const stmts = parseKeepalived(text);
    const inst = vrrpInstances(stmts).find((i) => i.virtualRouterId === plan.keepalived.virtualRouterId);
    if (!inst)
      throw new PlanMismatchError(
        `${h.name}:${file} has no vrrp_instance with virtual_router_id ${plan.keepalived.virtualRouterId} (plan keepalived.virtualRouterId)`,
      );
    if (!inst.vips.some((v) => (v[0] ?? '').split('/')[0] === plan.loadBalancer.vip)) {
      throw new PlanMismatchError(`${h.name}:${file}: vrrp_instance ${inst.name} does not carry the VIP ${plan.loadBalancer.vip} (plan loadBalancer.vip)`);
    }
    const meta = (await statPaths(ops, sshTargetOf(plan, h), [file])).get(file);
    out.push({ host: h.name, instance: inst, stmts, ...(meta ? { meta } : {}) });
  }
  if (!out.length) throw new PlanMismatchError(`cannot read the keepalived config of any old master (${why.join('; ')})`);
  return out;
}

/** Multicast, or unicast with peers; refuses when old and new could not hear each other. */
function transport(plan: Plan, olds: OldInstance[], self: string): string[] | undefined {
  const uni = olds.filter((o) => o.instance.unicastPeers);
  if (uni.length === 0) return undefined;
  if (uni.length !== olds.length) {
    throw new UnsafeOperationError(
      `the old masters disagree on the VRRP transport (unicast on ${uni.map((o) => o.host).join(', ')}, multicast on ${olds
        .filter((o) => !o.instance.unicastPeers)
        .map((o) => o.host)
        .join(', ')}): fix that before moving the VIP`,
    );
  }
  const newAddrs = addedMasters(plan).map((h) => h.address);
  const lacking = uni
    .map((o) => ({ host: o.host, missing: newAddrs.filter((a) => !(o.instance.unicastPeers ?? []).includes(a)) }))
    .filter((x) => x.missing.length);
  if (lacking.length) {
    throw new UnsafeOperationError(
      `split-brain risk: the old masters use unicast VRRP and ${lacking.map((l) => `${l.host} does not list ${l.missing.join(', ')}`).join('; ')} in unicast_peer. ` +
        `Old and new keepalived would not hear each other and both sides would hold ${plan.loadBalancer.vip}. ` +
        `Add every new master address to unicast_peer on each old master and reload keepalived there (e.g. systemctl reload keepalived), then retry.`,
      lacking.map((l) => `${l.host}: unicast_peer lacks ${l.missing.join(', ')}`),
    );
  }
  const foreign = new Set(uni.flatMap((o) => o.instance.unicastPeers ?? []));
  const all = vrrpPeerSet(plan);
  for (const a of allMasters(plan).map((h) => h.address)) foreign.delete(a);
  return [...all, ...foreign].filter((a) => a !== self);
}

/**
 * The VRRP peer set derived from the shape: during the switch both sides hear each other, so it is
 * every reachable old master (a failed one is left out: nothing is sent to a dead host) and every
 * new one, each address once (a kept host is on both sides). Without keepalived on the old side
 * (keepalived.onOldMasters: false) it is the new side only.
 */
export function vrrpPeerSet(plan: Plan): string[] {
  const hosts = plan.keepalived.onOldMasters === false ? plan.newMasters : reachableMasters(plan);
  return [...new Set(hosts.map((h) => h.address))];
}

/** No keepalived on the old side: the instance the new masters form, from the plan alone (unicast among the new masters). */
function planInstance(plan: Plan): VrrpInstance {
  const stmt: Stmt = { key: 'vrrp_instance', args: ['VI_1'], children: [] };
  return {
    name: 'VI_1',
    virtualRouterId: plan.keepalived.virtualRouterId,
    interface: plan.keepalived.interface,
    advertInt: String(plan.keepalived.advertIntervalSeconds),
    unicastPeers: vrrpPeerSet(plan),
    vips: [[`${plan.loadBalancer.vip}/32`, 'dev', plan.keepalived.interface]],
    nopreempt: false,
    others: [],
    stmt,
  };
}

/** No old side to copy from: PASS with the plan's password file, or no authentication. */
async function planAuth(plan: Plan): Promise<{ type: string; pass: string } | undefined> {
  if (!plan.keepalived.authPassFile) return undefined;
  const pass = (
    await readFile(plan.keepalived.authPassFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new PlanMismatchError(`cannot read keepalived.authPassFile ${plan.keepalived.authPassFile}: ${e.code ?? e.message}`);
    })
  ).trim();
  if (!pass) throw new PlanMismatchError(`keepalived.authPassFile ${plan.keepalived.authPassFile} is empty`);
  return { type: 'PASS', pass };
}

async function authFor(plan: Plan, olds: OldInstance[]): Promise<{ type: string; pass: string } | undefined> {
  const withAuth = olds.filter((o) => o.instance.authType);
  if (!withAuth.length) return undefined;
  const type = withAuth[0]?.instance.authType ?? 'PASS';
  if (!plan.keepalived.authPassFile) {
    throw new PlanMismatchError(
      `the old masters' VRRP instance uses authentication (auth_type ${type}); set keepalived.authPassFile to a file on the worker holding the password`,
    );
  }
  let pass: string;
  try {
    pass = (await readFile(plan.keepalived.authPassFile, 'utf8')).trim();
  } catch (e) {
    throw new PlanMismatchError(
      `cannot read keepalived.authPassFile ${plan.keepalived.authPassFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (!pass) throw new PlanMismatchError(`keepalived.authPassFile ${plan.keepalived.authPassFile} is empty`);
  // keepalived uses the first 8 characters of a PASS password
  const differs = withAuth.filter((o) => (o.instance.authPass ?? '').slice(0, 8) !== pass.slice(0, 8)).map((o) => o.host);
  if (differs.length) {
    throw new UnsafeOperationError(
      `the VRRP password in ${plan.keepalived.authPassFile} differs from the one in keepalived.conf on ${differs.join(', ')}: the old masters would ignore the new ones (split brain); fix the file`,
    );
  }
  return { type, pass };
}

/** The priority a new master gets when the plan sets none: above every old master (decreasing in plan order). */
export function defaultPriority(plan: Plan, host: string, maxOld: number): number {
  const i = plan.newMasters.findIndex((h) => h.name === host);
  const n = plan.newMasters.length;
  return Math.min(254 - i, maxOld + 10 * (n - Math.max(i, 0)));
}

/** The source's scripts, tracking and notify settings for `host`, remapped; PlanMismatchError showing every block that cannot be. */
export function carriedFrom(plan: Plan, src: OldInstance, host: { name: string; address: string }): Carried {
  const from = plan.oldMasters.find((h) => h.name === src.host);
  const ctx = {
    from: { name: src.host, address: from?.address ?? '', ...(src.instance.interface ? { iface: src.instance.interface } : {}) },
    to: { name: host.name, address: host.address, iface: plan.keepalived.interface },
    otherOldAddresses: plan.oldMasters.filter((h) => h.name !== src.host).map((h) => h.address),
  };
  const c = carryKeepalived(src.stmts, src.instance.stmt, ctx);
  if (c.refused.length) throw new PlanMismatchError(describeRefused(c.refused, `${src.host}:${plan.paths.keepalivedConfig}`));
  return c;
}

export function createVipActivities(deps: VipDeps) {
  const readyz = deps.readyz ?? defaultReadyz;
  async function configureKeepalived(plan: Plan, hostName: string): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    const ops = deps.hostOps();
    const t = sshTargetOf(plan, host);
    const noOldSide = plan.keepalived.onOldMasters === false;
    const olds = noOldSide ? [] : await oldInstances(plan, ops);
    const ref = noOldSide ? planInstance(plan) : (olds[0]?.instance as VrrpInstance);
    const peers = noOldSide ? vrrpPeerSet(plan).filter((a) => a !== host.address) : transport(plan, olds, host.address);
    const auth = noOldSide ? await planAuth(plan) : await authFor(plan, olds);
    const maxOld = Math.max(100, ...olds.map((o) => o.instance.priority ?? 100));
    const priority = host.keepalivedPriority ?? defaultPriority(plan, host.name, maxOld);
    const oldIface = ref.interface;
    const vips = ref.vips.map((v) => v.map((tok, i) => (oldIface && v[i - 1] === 'dev' && tok === oldIface ? plan.keepalived.interface : tok)));
    const extra: Carried = olds[0]
      ? carriedFrom(plan, olds[0], host)
      : { globalDefs: [], topBlocks: [], instanceExtras: [], carried: [], notCarried: [], refused: [] };
    const text = renderKeepalived({
      host: host.name,
      address: host.address,
      instance: ref.name,
      iface: plan.keepalived.interface,
      virtualRouterId: plan.keepalived.virtualRouterId,
      priority,
      advertInt: ref.advertInt ?? String(plan.keepalived.advertIntervalSeconds),
      ...(peers ? { unicastPeers: peers } : {}),
      ...(auth ? { auth } : {}),
      vips,
      globalDefs: extra.globalDefs,
      topBlocks: extra.topBlocks,
      instanceExtras: extra.instanceExtras,
    });
    // the VIP may move here the moment keepalived starts: the API must answer through this host's LB first, with a
    // certificate valid for the VIP (what clients will connect to; the LB may forward to a kept host's apiserver, whose
    // certificate never named this new host's address)
    const lb = await readyz(`${host.address}:${plan.loadBalancer.port}`, await readCa(plan, ops, host), plan, plan.loadBalancer.vip);
    if (!lb.ok) {
      throw new UnsafeOperationError(
        `refusing to start keepalived on ${hostName}: the API does not answer through ${host.address}:${plan.loadBalancer.port} (${describeProbe(lb)}), so the VIP would point at a dead LB`,
      );
    }
    const file = plan.paths.keepalivedConfig;
    const pushed = await ops.pushFile(t, file, text, pushOptionsLike(olds[0]?.meta, undefined, { backup: true }));
    failpoint('config.keepalived.after-write', hostName);
    // start, or restart when it runs another config than the one now on the host (host state, not this attempt's write)
    const action = await converge(plan, ops, t, host, 'keepalived', { start: true });
    const notes = [
      ...(priority <= maxOld ? [`priority ${priority} is not above the old masters' ${maxOld}: the VIP moves only when they stop`] : []),
      ...(extra.notCarried.length ? [`not carried over from ${olds[0]?.host}: ${extra.notCarried.join('; ')}`] : []),
    ];
    activityLog().info('keepalived configured', { host: hostName, priority, transport: peers ? 'unicast' : 'multicast', changed: pushed.changed, action });
    return {
      summary:
        `keepalived on ${hostName}: VRRP ${plan.keepalived.virtualRouterId} (${ref.name}), priority ${priority}, ${peers ? `unicast to ${peers.length} peers` : 'multicast'}; ` +
        `carried from ${olds[0]?.host}: ${extra.carried.join(', ') || 'nothing else'}; config ${pushed.changed ? 'written' : 'unchanged'}; ${action}`,
      changed: pushed.changed || action !== 'already running',
      details: {
        file,
        priority,
        transport: peers ? 'unicast' : 'multicast',
        peers,
        backupPath: pushed.backupPath,
        action,
        notes,
        carried: extra.carried,
        notCarried: extra.notCarried,
      },
    };
  }

  async function verifyVip(plan: Plan, expectSide: 'old' | 'new'): Promise<VipReport> {
    const ops = deps.hostOps();
    const deadline = Date.now() + (deps.verifyDeadlineMs ?? 60_000);
    const splitGraceMs = 3 * plan.keepalived.advertIntervalSeconds * 1000 + 2_000;
    const expected = new Set((expectSide === 'new' ? plan.newMasters : liveOldMasters(plan)).map((h) => h.name));
    let twoSince: number | undefined;
    let last = '';
    const timer = waitTimer(`VIP ${plan.loadBalancer.vip} on one ${expectSide} master, API answering`);
    for (;;) {
      timer.check();
      const h = await vipHolders(plan, ops);
      if (h.holders.length > 1) {
        twoSince ??= Date.now();
        if (Date.now() - twoSince > splitGraceMs) {
          throw new UnsafeOperationError(
            `split brain: the VIP ${plan.loadBalancer.vip} is held by ${h.holders.join(' and ')} for more than ${splitGraceMs} ms (VRRP peers do not hear each other)`,
            h.holders,
          );
        }
        last = `held by ${h.holders.join(' and ')} (waiting for VRRP to settle)`;
      } else {
        twoSince = undefined;
        const holder = h.holders[0];
        if (h.unknown.length) {
          // fail closed: an unreachable (old) master might still hold the VIP, so never call this verified
          last = holder ? `held by ${holder}` : 'held by no reachable host';
        } else if (holder && expected.has(holder)) {
          const ca = await readCa(plan, ops, masterOf(plan, holder));
          const r = await readyz(`${plan.loadBalancer.vip}:${plan.loadBalancer.port}`, ca, plan);
          if (r.ok) {
            timer.done();
            return {
              holders: h.holders,
              readyzThroughVip: true,
              summary: `VIP ${plan.loadBalancer.vip} held by ${holder} only (${expectSide} side); /readyz through https://${plan.loadBalancer.vip}:${plan.loadBalancer.port} ok`,
            };
          }
          last = `held by ${holder}, but /readyz through the VIP: ${describeProbe(r)}`;
        } else {
          last = holder ? `held by ${holder}, on the wrong side (expected ${expectSide})` : 'held by no host';
        }
      }
      timer.notYet();
      if (Date.now() > deadline) {
        timer.done(false);
        if (h.unknown.length) {
          throw new Error(
            `cannot verify the VIP ${plan.loadBalancer.vip}: could not check ${h.unknown.join(', ')} (SSH unreachable or \`ip -4 -o addr show\` failed), ` +
              `and an unreachable master might still hold the VIP; seen on the reachable hosts: ${last}`,
          );
        }
        throw new Error(`VIP ${plan.loadBalancer.vip} not as expected (exactly one ${expectSide} master, API answering through it): ${last}`);
      }
      beat({ vip: plan.loadBalancer.vip, last, unknown: h.unknown });
      await Promise.race([sleep(deps.pollMs ?? 500), cancelled()]);
    }
  }

  return { configureKeepalived, verifyVip };
}

export type VipActivities = ReturnType<typeof createVipActivities>;

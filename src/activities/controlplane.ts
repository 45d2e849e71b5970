/**
 * Control-plane components on a host, over SSH: configure kube-apiserver, the
 * apiserver LB (nginx), controller-manager and scheduler on a new master by
 * "copy and modify" from an old master (runbook), start/stop any component
 * through the plan's service commands, and wait until one is healthy.
 *
 * Idempotent: a config already as desired is not rewritten (pushFile compares
 * sha256), a running component is not started again, a stopped one not stopped.
 * A config that changed under a running component restarts it, so file and
 * process agree.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { HostUnreachableError, PlanMismatchError, UnsafeOperationError } from '../errors';
import { pushOptionsLike, statPaths, type PathMeta } from '../lib/file-meta';
import { presumedDown } from '../lib/reachability';
import type { HostOps } from '../lib/hostops';
import { serviceCommand } from '../lib/services';
import { shq } from '../lib/shell';
import { findHost, isFailed, reachableMasters, sshTargetOf, type SshTarget } from '../plan/hosts';
import type { Host, Plan } from '../plan/schema';
import { assertParity, componentParity, describeParity, PARITY_COMPONENTS, type ParityComponent } from './component-parity';
import { converge, isRunning, serviceOf, stopService, type ManagedComponent, type MasterHost } from './component-state';
import { failpoint } from '../lib/failpoint';
import { waitTimer } from '../lib/waits';
import { activityLog, beat, cancelled } from './heartbeat';
import { clientAuthFromKubeconfig, describeProbe, httpsGet, probeReadyz, type ProbeResult } from './readyz';
import { RewriteError, flagValues, referencedPaths, replaceAddress, rewriteApiserverConfig, rewriteNginxUpstream } from './rewrite';
import type { ComponentName, StepOutcome } from './types';
import { sleep } from '../lib/sleep';

export interface ControlPlaneDeps {
  hostOps: () => HostOps;
  /** poll interval of waitComponentHealthy (default 1 s) */
  pollMs?: number;
  /** how long waitComponentHealthy waits before failing (default 10 min) */
  healthDeadlineMs?: number;
  /** the HTTPS /readyz probe (default: probeReadyz from the worker); tests replace it */
  readyz?: ReadyzProbe;
  /** a started component found not running this long fails the wait at once (default 15 s) */
  notRunningGraceMs?: number;
}

/** GET https://HOSTPORT/readyz trusting `ca`, with the plan kubeconfig's credentials if anonymous is refused. */
export type ReadyzProbe = (hostPort: string, ca: Buffer, plan: Plan) => Promise<ProbeResult>;

export const defaultReadyz: ReadyzProbe = (hostPort, ca, plan) => probeReadyz(hostPort, ca, () => clientAuthFromKubeconfig(plan.kubeconfig));

export type { MasterHost } from './component-state';
export { isRunning, serviceOf } from './component-state';

export function masterOf(plan: Plan, name: string): MasterHost {
  try {
    return findHost(plan, name);
  } catch (e) {
    throw new PlanMismatchError((e as Error).message);
  }
}

const COMPONENT_LABEL: Record<ComponentName, string> = {
  etcd: 'etcd',
  apiserver: 'kube-apiserver',
  controllerManager: 'kube-controller-manager',
  scheduler: 'kube-scheduler',
  loadBalancer: 'apiserver-nginx-lb',
  keepalived: 'keepalived',
};

export const componentLabel = (c: ComponentName) => COMPONENT_LABEL[c];

export interface Source {
  host: MasterHost;
  text: string;
  /** the file's (and its directory's) mode and owner on the source host */
  meta?: PathMeta;
}

/** Reads `path` from the first old master that has it (runbook: copy from an old master). */
export async function readFromOldMaster(plan: Plan, ops: HostOps, path: string): Promise<Source> {
  const why: string[] = [];
  // a failed (dead) old master is never contacted
  for (const h of plan.oldMasters.filter((x) => !isFailed(x))) {
    try {
      const buf = await ops.readFile(sshTargetOf(plan, h), path);
      if (buf) {
        const meta = (await statPaths(ops, sshTargetOf(plan, h), [path])).get(path);
        return { host: { ...h, side: 'old' }, text: buf.toString('utf8'), ...(meta ? { meta } : {}) };
      }
      why.push(`${h.name}: no such file`);
    } catch (e) {
      why.push(`${h.name}: ${(e as Error).message}`);
    }
  }
  throw new PlanMismatchError(`cannot copy ${path} from any old master (${why.join('; ')}); check the plan's paths`);
}

async function missingOn(ops: HostOps, t: SshTarget, paths: string[]): Promise<string[]> {
  if (!paths.length) return [];
  const script = paths.map((p) => `[ -e ${shq(p)} ] || echo ${shq(p)}`).join('; ');
  return (await ops.run(t, script, { allowFailure: true })).stdout.split('\n').filter(Boolean);
}

/**
 * Files the config refers to (`--flag=/etc/...`) must exist on the target.
 * Those outside the PKI dir (audit policy, encryption config, scheduler config,
 * ...) are copied from the source master when missing, with its address
 * adapted; missing PKI files mean the certificates step has not run: refused.
 */
async function ensureReferencedFiles(plan: Plan, ops: HostOps, src: Source, t: SshTarget, host: MasterHost, text: string, file: string): Promise<string[]> {
  const refs = referencedPaths(text).filter((p) => p !== file);
  const pki = `${plan.paths.pkiDir.replace(/\/+$/, '')}/`;
  const copied: string[] = [];
  const todo = await missingOn(ops, t, refs.filter((r) => !r.startsWith(pki)));
  const meta = await statPaths(ops, sshTargetOf(plan, src.host), todo);
  for (const p of todo) {
    const buf = await ops.readFile(sshTargetOf(plan, src.host), p);
    if (!buf) continue;
    await ops.pushFile(t, p, replaceAddress(buf.toString('utf8'), src.host.address, host.address).text, pushOptionsLike(meta.get(p)));
    copied.push(p);
  }
  const missing = await missingOn(ops, t, refs);
  if (missing.length) {
    throw new PlanMismatchError(`${t.name}: ${file} refers to files that exist neither there nor on ${src.host.name}: ${missing.join(', ')} (PKI files come from the certificates step)`);
  }
  return copied;
}

interface Pushed {
  path: string;
  changed: boolean;
  backupPath?: string;
}

/** Pushes `content` with the source file's mode and owner (and its directory's, if created). */
async function push(ops: HostOps, t: SshTarget, path: string, content: string, src: Source): Promise<Pushed> {
  const r = await ops.pushFile(t, path, content, pushOptionsLike(src.meta, undefined, { backup: true }));
  return { path, changed: r.changed, ...(r.backupPath ? { backupPath: r.backupPath } : {}) };
}

/** A running component whose files differ from what it was started with is restarted (host state, not this attempt's writes). */
async function restartIfRunning(plan: Plan, ops: HostOps, t: SshTarget, host: MasterHost, c: ManagedComponent): Promise<boolean> {
  return (await converge(plan, ops, t, host, c, { start: false })) === 'restarted';
}

function wrapRewrite<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RewriteError) throw new PlanMismatchError(e.message);
    throw e;
  }
}


/** The kube-apiserver config a new master gets: the source's, adapted. Pure; shared with `plan show --live`. */
export function renderApiserverConfig(plan: Plan, src: Source, host: MasterHost, etcdServers: string[]): { text: string; notes: string[] } {
  const file = plan.paths.apiserverConfig;
  return wrapRewrite(() =>
    rewriteApiserverConfig(
      src.text,
      { etcdServers, sourceAddress: src.host.address, address: host.address, ...(plan.apiserver.apiserverCount !== undefined ? { apiserverCount: plan.apiserver.apiserverCount } : {}) },
      `${src.host.name}:${file}`,
    ),
  );
}

/** The nginx config a new master gets: upstream = the new apiservers. Pure; shared with `plan show --live`. */
export function renderNginxConfig(plan: Plan, src: Source, host: MasterHost): { text: string; servers: string[] } {
  const servers = plan.newMasters.map((h) => `${h.address}:${plan.apiserver.securePort}`);
  const text = wrapRewrite(() => {
    const up = rewriteNginxUpstream(src.text, plan.loadBalancer.upstreamName, servers, `${src.host.name}:${plan.paths.nginxConfig}`);
    return replaceAddress(up.text, src.host.address, host.address).text;
  });
  return { text, servers };
}

export function createControlPlaneActivities(deps: ControlPlaneDeps) {
  const pollMs = deps.pollMs ?? 1_000;
  const deadlineMs = deps.healthDeadlineMs ?? 10 * 60_000;
  const readyz = deps.readyz ?? defaultReadyz;

  async function configureApiserver(plan: Plan, hostName: string, etcdServers: string[]): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    if (!etcdServers.length) throw new PlanMismatchError(`configureApiserver(${hostName}): empty etcd server list`);
    const ops = deps.hostOps();
    const t = sshTargetOf(plan, host);
    const file = plan.paths.apiserverConfig;
    const src = await readFromOldMaster(plan, ops, file);
    const { text, notes } = renderApiserverConfig(plan, src, host, etcdServers);
    const copied = await ensureReferencedFiles(plan, ops, src, t, host, text, file);
    failpoint('config.apiserver.after-referenced-files', hostName);
    const p = await push(ops, t, file, text, src);
    failpoint('config.apiserver.after-write', hostName);
    const restarted = await restartIfRunning(plan, ops, t, host, 'apiserver');
    activityLog().info('apiserver configured', { host: hostName, source: src.host.name, changed: p.changed, restarted });
    return {
      summary: `${file} on ${hostName} ${p.changed ? 'written' : 'already up to date'} (from ${src.host.name}; --etcd-servers=${etcdServers.join(',')}${restarted ? '; restarted' : ''})`,
      changed: p.changed,
      details: { source: src.host.name, ...p, notes, copied, restarted },
    };
  }

  async function configureApiserverLb(plan: Plan, hostName: string): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    const ops = deps.hostOps();
    const t = sshTargetOf(plan, host);
    const file = plan.paths.nginxConfig;
    const src = await readFromOldMaster(plan, ops, file);
    const { text, servers } = renderNginxConfig(plan, src, host);
    const p = await push(ops, t, file, text, src);
    failpoint('config.loadBalancer.after-write', hostName);
    const restarted = await restartIfRunning(plan, ops, t, host, 'loadBalancer');
    return {
      summary: `${file} on ${hostName} ${p.changed ? 'written' : 'already up to date'}: upstream ${plan.loadBalancer.upstreamName} = ${servers.join(', ')}${restarted ? '; restarted' : ''}`,
      changed: p.changed,
      details: { source: src.host.name, ...p, upstreams: servers, restarted },
    };
  }

  async function configureControllerManagerScheduler(plan: Plan, hostName: string): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    const ops = deps.hostOps();
    const t = sshTargetOf(plan, host);
    const files: Array<{ path: string; component: 'controllerManager' | 'scheduler'; kubeconfig: boolean }> = [
      { path: plan.paths.controllerManagerKubeconfig, component: 'controllerManager', kubeconfig: true },
      { path: plan.paths.schedulerKubeconfig, component: 'scheduler', kubeconfig: true },
      { path: plan.paths.controllerManagerConfig, component: 'controllerManager', kubeconfig: false },
      { path: plan.paths.schedulerConfig, component: 'scheduler', kubeconfig: false },
    ];
    const pushed: Array<Pushed & { source: string; component: ComponentName }> = [];
    for (const f of files) {
      const src = await readFromOldMaster(plan, ops, f.path);
      const text = replaceAddress(src.text, src.host.address, host.address).text;
      const copied = !f.kubeconfig ? await ensureReferencedFiles(plan, ops, src, t, host, text, f.path) : [];
      for (const c of copied) pushed.push({ path: c, changed: true, source: src.host.name, component: f.component });
      pushed.push({ ...(await push(ops, t, f.path, text, src)), source: src.host.name, component: f.component });
      failpoint(`config.${f.component}.after-write`, hostName);
      beat({ pushed: f.path });
    }
    const restarted: string[] = [];
    for (const c of ['controllerManager', 'scheduler'] as const) {
      if (await restartIfRunning(plan, ops, t, host, c)) restarted.push(componentLabel(c));
    }
    const changed = pushed.some((p) => p.changed);
    return {
      summary: `${pushed.filter((p) => p.changed).length} of ${pushed.length} files written on ${hostName} (controller-manager and scheduler configs and kubeconfigs from ${pushed[0]?.source ?? '?'})${restarted.length ? `; restarted ${restarted.join(', ')}` : ''}`,
      changed,
      details: { files: pushed, restarted },
    };
  }

  /** Refuses a stop that would take the API or the VIP away from clients. */
  async function guardStop(plan: Plan, ops: HostOps, host: MasterHost, c: ComponentName): Promise<void> {
    if (c === 'keepalived') {
      const others = reachableMasters(plan).filter((h) => h.name !== host.name);
      const running = await Promise.all(others.map((h) => isRunning(ops, sshTargetOf(plan, h), plan.keepalived.service).catch(() => false)));
      if (!running.some(Boolean)) {
        throw new UnsafeOperationError(`refusing to stop keepalived on ${host.name}: no other master runs keepalived, so the VIP ${plan.loadBalancer.vip} would disappear`);
      }
    }
    if (c === 'loadBalancer') {
      // Fail closed: if we cannot list the addresses we cannot know that this host does not hold the VIP.
      const r = await ops.run(sshTargetOf(plan, host), 'ip -4 -o addr show', { allowFailure: true });
      if (r.exitCode !== 0) {
        throw new Error(
          `cannot tell whether ${host.name} holds the VIP ${plan.loadBalancer.vip}: \`ip -4 -o addr show\` exited ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().slice(-300)}` : ''}; not stopping ${componentLabel(c)} (will retry)`,
        );
      }
      const addrs = r.stdout;
      if (new RegExp(`\\s${plan.loadBalancer.vip.replace(/\./g, '\\.')}/`).test(addrs)) {
        throw new UnsafeOperationError(`refusing to stop ${componentLabel(c)} on ${host.name}: it holds the VIP ${plan.loadBalancer.vip}, so API clients would lose the API; move the VIP first`);
      }
    }
  }

  async function startComponent(plan: Plan, hostName: string, c: ComponentName): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    const ops = deps.hostOps();
    const t = sshTargetOf(plan, host);
    if (c === 'etcd') {
      // etcd is started by the join (etcd activities), which own its restarts
      if (await isRunning(ops, t, plan.etcd.service)) return { summary: `etcd on ${hostName} already running`, changed: false };
      await ops.run(t, serviceCommand(plan.etcd.service, 'start'), { timeoutMs: 120_000 });
      return { summary: `etcd on ${hostName} started`, changed: true };
    }
    const how = await converge(plan, ops, t, host, c, { start: true });
    const said = how === 'restarted' ? 'restarted (it ran another config than the one on the host)' : how;
    return { summary: `${componentLabel(c)} on ${hostName} ${said}`, changed: how !== 'already running' };
  }

  async function stopComponent(plan: Plan, hostName: string, c: ComponentName): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    const ops = deps.hostOps();
    const t = sshTargetOf(plan, host);
    const service = serviceOf(plan, c);
    let running: boolean;
    try {
      running = await isRunning(ops, t, service);
    } catch (e) {
      // an old master that died (powered off) must not wedge decommission: nothing runs there to stop
      const down = e instanceof HostUnreachableError && host.side === 'old' ? await presumedDown(ops, t, servicePortsOf(plan, host)) : undefined;
      if (!down) throw e;
      activityLog().warn('old master presumed down: nothing to stop', { host: hostName, component: c, why: down });
      return { summary: `${componentLabel(c)} on ${hostName} not stopped: ${down}; presumed powered off`, changed: false, details: { presumedDown: down } };
    }
    if (!running) return { summary: `${componentLabel(c)} on ${hostName} already stopped`, changed: false };
    await guardStop(plan, ops, host, c);
    if (c === 'etcd') {
      await ops.run(t, serviceCommand(service, 'stop'), { timeoutMs: 120_000 });
    } else {
      await stopService(ops, t, host, plan, c, componentLabel(c));
    }
    return { summary: `${componentLabel(c)} on ${hostName} stopped`, changed: true };
  }

  /** One health probe: ok, or what is wrong. */
  async function probe(plan: Plan, ops: HostOps, host: MasterHost, c: ComponentName, ca: () => Promise<Buffer>): Promise<ProbeResult> {
    const t = sshTargetOf(plan, host);
    if (!(await isRunning(ops, t, serviceOf(plan, c)))) return { ok: false, error: `not running (\`${serviceCommand(serviceOf(plan, c), 'status')}\` failed)` };
    switch (c) {
      case 'apiserver': {
        const url = new URL(host.apiserverURL ?? `https://${host.address}:${plan.apiserver.securePort}`);
        return readyz(url.host, await ca(), plan);
      }
      case 'loadBalancer':
        return readyz(`${host.address}:${plan.loadBalancer.port}`, await ca(), plan);
      case 'controllerManager':
      case 'scheduler':
        return healthzOnHost(plan, ops, t, c);
      case 'etcd':
        return etcdHealth(plan, host);
      case 'keepalived':
        return { ok: true };
    }
  }

  async function waitComponentHealthy(plan: Plan, hostName: string, c: ComponentName): Promise<StepOutcome> {
    const host = masterOf(plan, hostName);
    const ops = deps.hostOps();
    let caPem: Buffer | undefined;
    const ca = async () => (caPem ??= await readCa(plan, ops, host));
    const t0 = Date.now();
    let last: ProbeResult = { ok: false, error: 'not probed yet' };
    let notRunningSince: number | undefined;
    const timer = waitTimer(`${componentLabel(c)} on ${hostName} ready`);
    for (let attempt = 1; ; attempt++) {
      timer.check();
      try {
        last = await probe(plan, ops, host, c, ca);
      } catch (e) {
        last = { ok: false, error: (e as Error).message };
      }
      if (last.ok) {
        timer.done();
        const healthy = `${componentLabel(c)} on ${hostName} healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s`;
        const parity = await parityOf(plan, ops, host, c);
        return { summary: parity ? `${healthy}; ${parity.line}` : healthy, changed: false, details: { attempts: attempt, ...(parity ? { parity: parity.details } : {}) } };
      }
      timer.notYet();
      const notRunning = last.error?.startsWith('not running') ?? false;
      notRunningSince = notRunning ? (notRunningSince ?? Date.now()) : undefined;
      if (notRunningSince !== undefined && Date.now() - notRunningSince > (deps.notRunningGraceMs ?? 15_000)) {
        throw new Error(`${componentLabel(c)} on ${hostName} is ${last.error}; it was started but does not stay up: check its logs on ${hostName}`);
      }
      if (Date.now() - t0 > deadlineMs) {
        throw new Error(`${componentLabel(c)} on ${hostName} not healthy after ${Math.round(deadlineMs / 1000)} s: ${describeProbe(last)}`);
      }
      beat({ component: c, host: hostName, attempt, last: describeProbe(last) });
      await Promise.race([sleep(pollMs), cancelled()]);
    }
  }

  /** A new master's apiserver / controller-manager / scheduler, once healthy: its flags against an old master's (throws FlagParityError). */
  async function parityOf(plan: Plan, ops: HostOps, host: MasterHost, c: ComponentName): Promise<{ line: string; details: unknown } | undefined> {
    if (host.side !== 'new' || !(PARITY_COMPONENTS as readonly ComponentName[]).includes(c)) return undefined;
    const p = await componentParity(ops, plan, host, c as ParityComponent);
    if ('skipped' in p) {
      activityLog().warn('flag parity not checked', { host: host.name, component: c, why: p.skipped });
      return { line: p.skipped, details: p };
    }
    activityLog().info('flag parity', { host: host.name, component: c, against: p.against, perHost: p.perHost.length, blocking: p.blocking.length });
    assertParity(p);
    return { line: describeParity(p), details: p };
  }

  return {
    configureApiserver,
    configureApiserverLb,
    configureControllerManagerScheduler,
    startComponent,
    stopComponent,
    waitComponentHealthy,
  };
}

/** The ports a live master answers on: apiserver, LB, etcd client and peer. */
export function servicePortsOf(plan: Plan, host: Host): number[] {
  const port = (u: string) => Number(new URL(u).port || (u.startsWith('https') ? 443 : 80));
  return [...new Set([plan.apiserver.securePort, plan.loadBalancer.port, port(host.etcd.clientURL), port(host.etcd.peerURL)])];
}

/** The cluster CA from the host's PKI dir: what its serving certs must chain to. */
export async function readCa(plan: Plan, ops: HostOps, host: Pick<Host, 'name' | 'address' | 'ssh'>): Promise<Buffer> {
  const file = `${plan.paths.pkiDir}/ca.crt`;
  const ca = await ops.readFile(sshTargetOf(plan, host), file);
  if (!ca) throw new PlanMismatchError(`${host.name}: ${file} does not exist (copy the PKI first)`);
  return ca;
}

/** controller-manager / scheduler /healthz, asked on the host itself (they bind to localhost). */
async function healthzOnHost(plan: Plan, ops: HostOps, t: SshTarget, c: 'controllerManager' | 'scheduler'): Promise<ProbeResult> {
  const cfg = (await ops.readFile(t, c === 'controllerManager' ? plan.paths.controllerManagerConfig : plan.paths.schedulerConfig))?.toString('utf8') ?? '';
  const port = Number(flagValues(cfg, 'secure-port')[0] ?? (c === 'controllerManager' ? 10257 : 10259));
  if (port === 0) return { ok: true };
  const bind = flagValues(cfg, 'bind-address')[0];
  const addr = !bind || bind === '0.0.0.0' ? '127.0.0.1' : bind;
  const r = await ops.run(t, `curl -sk --max-time 3 https://${addr}:${port}/healthz`, { allowFailure: true, timeoutMs: 15_000 });
  if (r.exitCode === 127) return { ok: true, body: 'curl not installed on the host: process status only' };
  return r.exitCode === 0 && r.stdout.trim() === 'ok' ? { ok: true } : { ok: false, error: `https://${addr}:${port}/healthz: ${r.stdout.trim().slice(0, 200) || `curl exited ${r.exitCode}`}` };
}

async function etcdHealth(plan: Plan, host: MasterHost): Promise<ProbeResult> {
  const tls = plan.etcd.tls;
  if (host.etcd.clientURL.startsWith('http:')) {
    return new Promise((resolve) => {
      const req = request(`${host.etcd.clientURL}/health`, { timeout: 5_000 }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ ok: res.statusCode === 200 && /"health":\s*"true"/.test(body), status: res.statusCode, body }));
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
      req.on('error', (e) => resolve({ ok: false, error: e.message }));
      req.end();
    });
  }
  if (!tls) return { ok: false, error: 'https etcd URL but plan etcd.tls is not set' };
  const [ca, cert, key] = await Promise.all([readFile(tls.caFile), readFile(tls.certFile), readFile(tls.keyFile)]);
  const r = await httpsGet(`${host.etcd.clientURL}/health`, { ca, auth: { cert, key } });
  return { ...r, ok: r.ok && /"health":\s*"true"/.test(r.body ?? '') };
}

export type ControlPlaneActivities = ReturnType<typeof createControlPlaneActivities>;

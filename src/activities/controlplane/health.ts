/** waitComponentHealthy: poll a component's health probe until it answers ok, then check its flags against an old master's. */
import { readFile } from 'node:fs/promises';
import { activityLog, beat, cancelled } from '../../lib/heartbeat';
import type { HostOps } from '../../lib/hostops';
import { serviceCommand } from '../../lib/services';
import { sleep } from '../../lib/sleep';
import { waitTimer } from '../../lib/waits';
import { masterOf, sshTargetOf, type SshTarget } from '../../plan/hosts';
import type { Plan } from '../../plan/schema';
import { assertParity, componentParity, describeParity, PARITY_COMPONENTS, type ParityComponent } from '../component-parity';
import { isRunning, serviceOf, type MasterHost } from '../component-state';
import { describeProbe, httpsGet, type ProbeResult } from '../readyz';
import { flagValues } from '../rewrite';
import type { ComponentName, StepOutcome } from '../types';
import { componentLabel, defaultReadyz, readCa, type ControlPlaneDeps } from './common';

export function healthActivities(deps: ControlPlaneDeps) {
  const pollMs = deps.pollMs ?? 1_000;
  const deadlineMs = deps.healthDeadlineMs ?? 10 * 60_000;
  const readyz = deps.readyz ?? defaultReadyz;

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
        return {
          summary: parity ? `${healthy}; ${parity.line}` : healthy,
          changed: false,
          details: { attempts: attempt, ...(parity ? { parity: parity.details } : {}) },
        };
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

  return { waitComponentHealthy };
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
  return r.exitCode === 0 && r.stdout.trim() === 'ok'
    ? { ok: true }
    : { ok: false, error: `https://${addr}:${port}/healthz: ${r.stdout.trim().slice(0, 200) || `curl exited ${r.exitCode}`}` };
}

/** etcd's /health from the worker: plain http, or https with the plan's etcd client certificate. */
async function etcdHealth(plan: Plan, host: MasterHost): Promise<ProbeResult> {
  const url = `${host.etcd.clientURL}/health`;
  let tls: Parameters<typeof httpsGet>[1] = {};
  if (!host.etcd.clientURL.startsWith('http:')) {
    if (!plan.etcd.tls) return { ok: false, error: 'https etcd URL but plan etcd.tls is not set' };
    const [ca, cert, key] = await Promise.all([readFile(plan.etcd.tls.caFile), readFile(plan.etcd.tls.certFile), readFile(plan.etcd.tls.keyFile)]);
    tls = { ca, auth: { cert, key } };
  }
  const r = await httpsGet(url, tls);
  return { ...r, ok: r.ok && /"health":\s*"true"/.test(r.body ?? '') };
}

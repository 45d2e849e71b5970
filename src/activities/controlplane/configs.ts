/**
 * "Copy and modify" (runbook): a config read from an old master, adapted for
 * a new one (pure renderers, shared with `plan show --live`), pushed with the
 * source's mode and owner, the files it refers to brought along.
 */
import { PlanMismatchError } from '../../errors';
import { pushOptionsLike, statPaths, type PathMeta } from '../../lib/file-meta';
import type { HostOps } from '../../lib/hostops';
import { shq } from '../../lib/shell';
import { isFailed, sshTargetOf, type SshTarget } from '../../plan/hosts';
import type { Plan } from '../../plan/schema';
import { converge, type ManagedComponent, type MasterHost } from '../component-state';
import { RewriteError, referencedPaths, replaceAddress, rewriteApiserverConfig, rewriteNginxUpstream } from '../rewrite';

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
export async function ensureReferencedFiles(
  plan: Plan,
  ops: HostOps,
  src: Source,
  t: SshTarget,
  host: MasterHost,
  text: string,
  file: string,
): Promise<string[]> {
  const refs = referencedPaths(text).filter((p) => p !== file);
  const pki = `${plan.paths.pkiDir.replace(/\/+$/, '')}/`;
  const copied: string[] = [];
  const todo = await missingOn(
    ops,
    t,
    refs.filter((r) => !r.startsWith(pki)),
  );
  const meta = await statPaths(ops, sshTargetOf(plan, src.host), todo);
  for (const p of todo) {
    const buf = await ops.readFile(sshTargetOf(plan, src.host), p);
    if (!buf) continue;
    await ops.pushFile(t, p, replaceAddress(buf.toString('utf8'), src.host.address, host.address).text, pushOptionsLike(meta.get(p)));
    copied.push(p);
  }
  const missing = await missingOn(ops, t, refs);
  if (missing.length) {
    throw new PlanMismatchError(
      `${t.name}: ${file} refers to files that exist neither there nor on ${src.host.name}: ${missing.join(', ')} (PKI files come from the certificates step)`,
    );
  }
  return copied;
}

export interface Pushed {
  path: string;
  changed: boolean;
  backupPath?: string;
}

/** Pushes `content` with the source file's mode and owner (and its directory's, if created). */
export async function push(ops: HostOps, t: SshTarget, path: string, content: string, src: Source): Promise<Pushed> {
  const r = await ops.pushFile(t, path, content, pushOptionsLike(src.meta, undefined, { backup: true }));
  return { path, changed: r.changed, ...(r.backupPath ? { backupPath: r.backupPath } : {}) };
}

/** A running component whose files differ from what it was started with is restarted (host state, not this attempt's writes). */
export async function restartIfRunning(plan: Plan, ops: HostOps, t: SshTarget, host: MasterHost, c: ManagedComponent): Promise<boolean> {
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
      {
        etcdServers,
        sourceAddress: src.host.address,
        address: host.address,
        ...(plan.apiserver.apiserverCount !== undefined ? { apiserverCount: plan.apiserver.apiserverCount } : {}),
      },
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

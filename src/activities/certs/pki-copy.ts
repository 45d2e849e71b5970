/**
 * copyPki: the cluster PKI from an old master to a new one, in a few round
 * trips (one listing with digests, one batched read, pushes four at a time),
 * keeping modes and owners; the per-host pairs are never copied over.
 */
import { sha256hex } from '../../lib/digest';
import { failpoint } from '../../lib/failpoint';
import type { HostOps } from '../../lib/hostops';
import { shq } from '../../lib/shell';
import { masterOf, sshTargetOf, type SshTarget } from '../../plan/hosts';
import type { Plan } from '../../plan/schema';
import { UnsafeOperationError, PlanMismatchError } from '../../errors';
import { activityLog, beat } from '../../lib/heartbeat';
import type { StepOutcome } from '../types';
import { join, type CertActivityDeps } from './common';

/** Files under pkiDir that belong to one host: not overwritten once the target has them (and the same CA). */
export const PER_HOST_PKI_FILES = ['apiserver.crt', 'apiserver.key'] as const;

/**
 * Per-host etcd certificates (kubeadm layout): their SANs carry the host's own
 * address, so they are NEVER copied from another master -- kept when the target
 * has them, reported as missing when it does not (provision them on the host:
 * `kubeadm init phase certs etcd-server` / `etcd-peer`, or your PKI tooling).
 * etcd/ca.*, etcd/healthcheck-client.* and apiserver-etcd-client.* are shared.
 */
export const PER_HOST_ETCD_PKI_FILES = ['etcd/server.crt', 'etcd/server.key', 'etcd/peer.crt', 'etcd/peer.key'] as const;

interface PkiEntry {
  type: 'f' | 'd' | 'l';
  mode: number;
  /** "user:group" (names) */
  owner: string;
  /** sha256 of a file's content */
  sha?: string;
  /** relative to pkiDir; '' for pkiDir itself */
  rel: string;
}

const SKIP = `! -name '*.cpmigrate-bak-*' ! -name '.*.cpmigrate-tmp.*'`;

/**
 * Everything under pkiDir in one round trip: NUL-separated "TYPE MODE [SHA256] RELPATH"
 * (POSIX sh + GNU find/coreutils; our own backups and temp files are not PKI).
 * undefined when the directory does not exist.
 */
async function inventory(ops: HostOps, target: SshTarget, pkiDir: string): Promise<PkiEntry[] | undefined> {
  const r = await ops.run(
    target,
    [
      `d=${shq(pkiDir)}; [ -d "$d" ] || exit 66; cd "$d" || exit 1`,
      `find . \\( -type d -o -type l \\) ${SKIP} -printf '%y %m %u:%g %P\\0'`,
      `find . -type f ${SKIP} -exec sh -c 'for f; do s=$(sha256sum < "$f" | cut -c1-64) || exit 1; printf "f %s %s %s %s\\0" "$(stat -c %a -- "$f")" "$(stat -c %U:%G -- "$f")" "$s" "\${f#./}"; done' sh {} +`,
    ].join('\n'),
    { allowFailure: true },
  );
  if (r.exitCode === 66) return undefined;
  if (r.exitCode !== 0) throw new Error(`${target.name}: cannot list ${pkiDir}: ${r.stderr.trim()}`);
  return r.stdout
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const m = /^([fdl]) ([0-7]+) (\S+) (?:([0-9a-f]{64}) )?(.*)$/s.exec(line);
      if (!m) throw new Error(`${target.name}: unexpected listing line ${JSON.stringify(line)}`);
      return { type: m[1] as PkiEntry['type'], mode: parseInt(m[2] ?? '', 8) & 0o7777, owner: m[3] ?? '', sha: m[4], rel: m[5] ?? '' };
    });
}

/** Read several files in one round trip ("NAME\0SIZE\0" + bytes each), checking each against its expected sha256. */
async function readMany(ops: HostOps, target: SshTarget, pkiDir: string, files: PkiEntry[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (!files.length) return out;
  // HostOps.run decodes stdout as UTF-8, which would mangle binary files (e.g. DER): base64 each one
  const r = await ops.run(
    target,
    `cd ${shq(pkiDir)} || exit 1\nfor f in ${files.map((f) => shq(f.rel)).join(' ')}; do printf '%s\\0' "$f"; base64 < "$f" | tr -d '\\n' || exit 1; printf '\\0'; done`,
  );
  const parts = r.stdout.split('\0');
  for (let i = 0; i + 1 < parts.length; i += 2) out.set(parts[i] ?? '', Buffer.from(parts[i + 1] ?? '', 'base64'));
  for (const f of files) {
    const got = out.get(f.rel);
    if (!got) throw new Error(`${target.name}: ${join(pkiDir, f.rel)} was not read; retry`);
    if (f.sha && sha256hex(got) !== f.sha) throw new Error(`${target.name}: ${join(pkiDir, f.rel)} changed while copying; retry`);
  }
  return out;
}

async function inBatches<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

export function pkiCopyActivities(deps: CertActivityDeps) {
  return {
    /**
     * Copy every file under paths.pkiDir (recursively) from one master to a new
     * master, keeping modes; files already identical are left alone. The
     * per-host apiserver.crt/.key are not overwritten once the target has them
     * with the same ca.crt, so a re-run never undoes reissueApiserverCert. The
     * per-host etcd server/peer pairs (PER_HOST_ETCD_PKI_FILES) are never
     * copied: kept if present, else listed in details.missingPerHost.
     */
    async copyPki(plan: Plan, fromHost: string, toHost: string): Promise<StepOutcome> {
      const from = masterOf(plan, fromHost);
      const to = masterOf(plan, toHost);
      if (to.side === 'old') throw new UnsafeOperationError(`refusing to copy PKI onto ${to.name}: it is an old master (only new masters receive the PKI)`);
      if (from.name === to.name) throw new UnsafeOperationError(`refusing to copy PKI from ${from.name} onto itself`);
      const ops = deps.hostOps();
      const src = sshTargetOf(plan, from);
      const dst = sshTargetOf(plan, to);
      const pki = plan.paths.pkiDir;
      const log = activityLog();

      const [srcInv, dstInv] = await Promise.all([inventory(ops, src, pki), inventory(ops, dst, pki)]);
      if (!srcInv) throw new PlanMismatchError(`${from.name}: ${pki} does not exist (paths.pkiDir in the plan)`);
      const files = srcInv.filter((e) => e.type === 'f').sort((a, b) => a.rel.localeCompare(b.rel));
      if (files.length === 0) throw new PlanMismatchError(`${from.name}: ${pki} holds no files; is paths.pkiDir right?`);
      const links = srcInv.filter((e) => e.type === 'l').map((e) => e.rel);
      const there = new Map((dstInv ?? []).map((e) => [`${e.type}:${e.rel}`, e]));

      // directories first, with the source's mode and owner when created (existing ones are left as they are)
      const newDirs = srcInv.filter((e) => e.type === 'd' && !there.has(`d:${e.rel}`)).sort((a, b) => a.rel.length - b.rel.length);
      if (newDirs.length) {
        await ops.run(
          dst,
          newDirs.map((d) => `mkdir -p -m ${d.mode.toString(8)} -- ${shq(join(pki, d.rel))} && chown ${shq(d.owner)} -- ${shq(join(pki, d.rel))}`).join(' && '),
        );
      }
      failpoint('certs.pki.after-dirs', to.name);

      // a per-host file already there is kept only if the target already has this cluster's CA
      // (then it is ours, e.g. re-issued); a leftover from another PKI is replaced (with backup)
      const caSha = files.find((f) => f.rel === 'ca.crt')?.sha;
      const sameCa = caSha !== undefined && there.get('f:ca.crt')?.sha === caSha;
      const kept: string[] = [];
      const missingPerHost: string[] = [];
      const todo: PkiEntry[] = [];
      let unchanged = 0;
      for (const f of files) {
        const cur = there.get(`f:${f.rel}`);
        if ((PER_HOST_ETCD_PKI_FILES as readonly string[]).includes(f.rel)) {
          // the source's copy names the source's address: never copy it, whatever the target has
          if (cur) kept.push(f.rel);
          else missingPerHost.push(f.rel);
        } else if ((PER_HOST_PKI_FILES as readonly string[]).includes(f.rel) && cur && sameCa) kept.push(f.rel);
        else if (cur && cur.sha === f.sha && cur.mode === f.mode && cur.owner === f.owner) unchanged++;
        else todo.push(f);
      }
      const contents = await readMany(ops, src, pki, todo);
      let copied = 0;
      const changedFiles: string[] = [];
      const backups: string[] = [];
      await inBatches(todo, 4, async (f) => {
        const r = await ops.pushFile(dst, join(pki, f.rel), contents.get(f.rel) as Buffer, { mode: f.mode, owner: f.owner, backup: true });
        if (r.changed) {
          copied++;
          changedFiles.push(f.rel);
          if (r.backupPath) backups.push(r.backupPath);
        } else {
          unchanged++;
        }
        beat({ copied, unchanged, of: files.length });
      });
      failpoint('certs.pki.after-copy', to.name);
      changedFiles.sort();
      if (links.length) log.warn('symlinks in the PKI directory were not copied', { from: from.name, links });
      if (missingPerHost.length) {
        log.warn('per-host etcd certificates missing on the target (not copied from the source: wrong SANs)', { from: from.name, to: to.name, missingPerHost });
      }
      log.info('PKI copied', { from: from.name, to: to.name, copied, unchanged, kept: kept.length });
      return {
        summary:
          `PKI ${from.name} → ${to.name}: ${copied} copied, ${unchanged} unchanged${kept.length ? `, ${kept.length} per-host kept (${kept.join(', ')})` : ''}` +
          `${missingPerHost.length ? `, ${missingPerHost.length} per-host missing on ${to.name}, not copied (${missingPerHost.join(', ')})` : ''}` +
          `${links.length ? `, ${links.length} symlink(s) skipped` : ''}`,
        changed: copied > 0,
        details: {
          from: from.name,
          to: to.name,
          pkiDir: pki,
          files: files.length,
          copied,
          unchanged,
          changedFiles,
          keptPerHost: kept,
          missingPerHost,
          skippedSymlinks: links,
          backups,
        },
      };
    },
  };
}

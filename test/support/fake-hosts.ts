/**
 * TEST ONLY: an in-memory HostOps for activity unit tests. Each host has files,
 * a set of running services (driven by the systemctl / cpm-svc commands that
 * src/lib/services.ts produces) and IPv4 addresses (`ip -4 -o addr show`).
 * Every command is recorded. No network, no processes.
 */
import { createHash } from 'node:crypto';
import type { CommandResult, PushResult } from '../../src/activities/types';
import { RemoteCommandError } from '../../src/errors';
import type { FileMeta } from '../../src/lib/file-meta';
import type { HostOps, PushOptions, RunOptions } from '../../src/lib/hostops';
import type { SshTarget } from '../../src/plan/hosts';

export interface FakeHost {
  files: Map<string, string>;
  /** mode and owner of files and directories (default 0644 / 0755 root:root); `stat -c` answers from here */
  meta: Map<string, FileMeta>;
  running: Set<string>;
  addrs: string[];
  /** services that die right after start */
  crashing: Set<string>;
  unreachable?: boolean;
}

export class FakeHosts implements HostOps {
  readonly hosts = new Map<string, FakeHost>();
  readonly commands: Array<{ host: string; command: string }> = [];
  /** extra command handlers, tried first */
  handlers: Array<(host: string, command: string) => CommandResult | undefined> = [];

  host(name: string): FakeHost {
    let h = this.hosts.get(name);
    if (!h) this.hosts.set(name, (h = { files: new Map(), meta: new Map(), running: new Set(), addrs: [], crashing: new Set() }));
    return h;
  }

  async run(t: SshTarget, command: string, opts: RunOptions = {}): Promise<CommandResult> {
    const h = this.host(t.name);
    if (h.unreachable) throw new Error(`connect ECONNREFUSED ${t.address}:22`);
    // lib/applied withStamp: the (re)start command, then the applied stamp, in one shell
    const stamped = /^\{ ([\s\S]*)\n\} && \(umask 077 && printf '%s\\n' '([0-9a-f]+)' > '[^']+' && mv -f '[^']+' '([^']+)'\)$/.exec(command);
    const inner = stamped?.[1] ?? command;
    this.commands.push({ host: t.name, command: inner });
    const r = this.exec(t.name, h, inner);
    if (r.exitCode === 0 && stamped) h.files.set(stamped[3] ?? '', `${stamped[2] ?? ''}\n`);
    if (r.exitCode !== 0 && !opts.allowFailure) throw new RemoteCommandError(t.name, command, r.exitCode, r.stderr);
    return r;
  }

  private exec(name: string, h: FakeHost, command: string): CommandResult {
    const ok = (stdout = ''): CommandResult => ({ stdout, stderr: '', exitCode: 0 });
    for (const f of this.handlers) {
      const r = f(name, command);
      if (r) return r;
    }
    const svc = /^(?:systemctl (is-active --quiet|start|stop|restart) '([^']+)'|cpm-svc (status|start|stop|restart) (\S+))$/.exec(command);
    if (svc) {
      const action = svc[1] ?? svc[3];
      const unit = svc[2] ?? svc[4] ?? '';
      if (action === 'is-active --quiet' || action === 'status') return h.running.has(unit) ? ok() : { stdout: '', stderr: '', exitCode: 3 };
      if (action === 'stop') h.running.delete(unit);
      else if (!h.crashing.has(unit)) h.running.add(unit);
      return ok();
    }
    if (command.startsWith('stat -c ')) {
      const lines: string[] = [];
      for (const m of command.matchAll(/stat -c '(\d+) ([FD]) [^']*' -- '([^']+)'/g)) {
        const [, i, kind, p = ''] = m;
        const exists = kind === 'F' ? h.files.has(p) : [...h.files.keys()].some((f) => f.startsWith(`${p}/`));
        if (!exists) continue;
        const meta = h.meta.get(p) ?? { mode: kind === 'F' ? 0o644 : 0o755, owner: 'root:root' };
        const [u, g] = meta.owner.split(':');
        lines.push(`${i} ${kind} ${meta.mode.toString(8)} ${u} ${g} 0 0`);
      }
      return ok(lines.map((l) => `${l}\n`).join(''));
    }
    if (command === 'ip -4 -o addr show') return ok(h.addrs.map((a, i) => `${i + 2}: eth0    inet ${a}/24 scope global eth0`).join('\n'));
    if (command.startsWith('[ -e ')) {
      const missing = [...command.matchAll(/\[ -e '([^']+)' \]/g)].map((m) => m[1] ?? '').filter((p) => !h.files.has(p));
      return ok(missing.map((p) => `${p}\n`).join(''));
    }
    if (command.startsWith('curl ')) return ok('ok');
    return ok();
  }

  async pushFile(t: SshTarget, path: string, content: string | Buffer, opts: PushOptions = {}): Promise<PushResult> {
    const h = this.host(t.name);
    const text = content.toString();
    const sha256 = createHash('sha256').update(text).digest('hex');
    const before = h.files.get(path);
    const meta = { mode: opts.mode ?? h.meta.get(path)?.mode, owner: opts.owner ?? h.meta.get(path)?.owner ?? 'root:root' };
    if (before === undefined && opts.mode === undefined) throw new RemoteCommandError(t.name, `push ${path}`, 3, `refusing to create ${path} without a mode`);
    const metaChanged = h.meta.get(path) !== undefined && (h.meta.get(path)?.mode !== meta.mode || h.meta.get(path)?.owner !== meta.owner);
    if (meta.mode !== undefined) h.meta.set(path, { mode: meta.mode, owner: meta.owner });
    if (before === text) return { path, changed: metaChanged, sha256 };
    let backupPath: string | undefined;
    if (before !== undefined && opts.backup) {
      backupPath = `${path}.cpmigrate-bak-${createHash('sha256').update(before).digest('hex').slice(0, 8)}`;
      h.files.set(backupPath, before);
    }
    h.files.set(path, text);
    return { path, changed: true, sha256, ...(backupPath ? { backupPath } : {}) };
  }

  async readFile(t: SshTarget, path: string): Promise<Buffer | undefined> {
    const h = this.host(t.name);
    if (h.unreachable) throw new Error(`connect ECONNREFUSED ${t.address}:22`);
    const f = h.files.get(path);
    return f === undefined ? undefined : Buffer.from(f);
  }

  async close(): Promise<void> {}
}

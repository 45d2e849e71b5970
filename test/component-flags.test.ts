/**
 * Flag parity, pure: command lines and config files parsed into flags, every
 * difference classified as per-host or blocking; and waitComponentHealthy
 * refusing (FlagParityError) on an in-memory HostOps whose new master runs
 * another setting. The same check on real kube-scheduler processes:
 * test/component-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createControlPlaneActivities } from '../src/activities/controlplane';
import { parseProcessScan, processScanScript } from '../src/activities/component-parity';
import { compareFlags, describeDifference, flagsOfConfigText, parseArgv } from '../src/lib/component-flags';
import { FlagParityError } from '../src/errors';
import { apiserverEnv } from '../src/lab/configs';
import { FakeHosts } from './support/fake-hosts';
import { testPlan } from './support/plans';

const OLD = { name: 'oldmaster-1', address: '10.200.20.11' };
const NEW = { name: 'master-1', address: '10.200.20.101' };

describe('flags of a command line and of a config file', () => {
  it('reads --a=b, --a b, bare booleans and repeated flags; drops the binary', () => {
    const f = parseArgv(['/usr/bin/kube-apiserver', '--a=1', '--b', '2', '--c', '--d=x', '--d=y', '--e=']);
    expect([...f.entries()]).toEqual([
      ['a', ['1']],
      ['b', ['2']],
      ['c', ['']],
      ['d', ['x', 'y']],
      ['e', ['']],
    ]);
  });

  it('reads the lab env file (KUBE_APISERVER_ARGS="..." one flag a line) as the process gets it', () => {
    const text = apiserverEnv({ name: 'oldmaster-1', address: '198.18.0.11' } as never);
    const f = flagsOfConfigText(text);
    expect(f.get('advertise-address')).toEqual(['198.18.0.11']);
    expect(f.get('audit-log-path')).toEqual(['-']);
    expect(f.get('profiling')).toEqual(['false']);
    expect(f.size).toBeGreaterThan(15);
    // a static-pod manifest list item, quoted
    expect([...flagsOfConfigText('    - "--tls-cert-file=/p/a.crt"\n    - --v=2\n').entries()]).toEqual([
      ['tls-cert-file', ['/p/a.crt']],
      ['v', ['2']],
    ]);
  });
});

describe('compareFlags', () => {
  const old = parseArgv([
    '--advertise-address=10.200.20.11',
    '--etcd-servers=http://10.200.20.11:2379',
    '--tls-cert-file=/pki/oldmaster-1.crt',
    '--audit-policy-file=/etc/k/audit.yaml',
    '--profiling=false',
    '--x=10.200.20.12',
  ]);

  it('same settings, per-host values remapped: nothing blocks, every per-host difference listed with why', () => {
    const now = parseArgv([
      '--advertise-address=10.200.20.101',
      '--etcd-servers=http://10.200.20.101:2379,http://10.200.20.102:2379',
      '--tls-cert-file=/pki/master-1.crt',
      '--audit-policy-file=/etc/k/audit.yaml',
      '--profiling=false',
      '--x=10.200.20.12',
      '--apiserver-count=2',
    ]);
    const r = compareFlags(old, now, OLD, NEW, { rewritten: { 'etcd-servers': 'per host' }, added: { 'apiserver-count': '2' } });
    expect(r.blocking).toEqual([]);
    expect(r.perHost.map((d) => d.flag)).toEqual(['advertise-address', 'apiserver-count', 'etcd-servers', 'tls-cert-file']);
    expect(r.perHost.find((d) => d.flag === 'tls-cert-file')?.why).toBe("oldmaster-1's own address/name, as master-1's");
    expect(r.compared).toBe(7);
  });

  it('a lost, an added and a changed setting each block, with both values shown', () => {
    const now = parseArgv([
      '--advertise-address=10.200.20.101',
      '--etcd-servers=http://10.200.20.101:2379',
      '--tls-cert-file=/pki/master-1.crt',
      '--profiling=true',
      '--x=10.200.20.101',
      '--feature-gates=Foo=true',
    ]);
    const r = compareFlags(old, now, OLD, NEW, { rewritten: { 'etcd-servers': 'per host' } });
    expect(r.blocking.map(describeDifference)).toEqual([
      '--audit-policy-file missing on the new master (old: /etc/k/audit.yaml)',
      '--feature-gates only on the new master (new: Foo=true)',
      '--profiling changed (false → true)',
      // another old master's address is not this host's: not per-host
      '--x changed (10.200.20.12 → 10.200.20.101)',
    ]);
  });

  it("never shows an inline secret, and an apiserver-count other than the plan's blocks", () => {
    const r = compareFlags(
      parseArgv(['--oidc-client-secret=hunter2', '--apiserver-count=3']),
      parseArgv(['--oidc-client-secret=hunter3', '--apiserver-count=3']),
      OLD,
      NEW,
      { added: { 'apiserver-count': '2' } },
    );
    expect(r.blocking.map(describeDifference)).toEqual(['--oidc-client-secret changed ((secret, not shown) → (secret, not shown))']);
    const r2 = compareFlags(parseArgv(['--apiserver-count=3']), parseArgv(['--apiserver-count=5']), OLD, NEW, { added: { 'apiserver-count': '2' } });
    expect(r2.blocking.map((d) => d.flag)).toEqual(['apiserver-count']);
  });
});

describe('the process scan', () => {
  it('parses the scan output into pid → argv', () => {
    expect([...parseProcessScan('@@cpmigrate-pid 12\n/bin/kube-scheduler\n--a=1\n\n@@cpmigrate-pid 13\nx\n\n').entries()]).toEqual([
      ['12', ['/bin/kube-scheduler', '--a=1']],
      ['13', ['x']],
    ]);
    expect(processScanScript('kube-scheduler')).toMatch(/^bash -c '/);
  });
});

describe('waitComponentHealthy checks flag parity on a new master', () => {
  const plan = testPlan();
  const scan = (argv: Record<string, string[]>) => (host: string, command: string) =>
    command.startsWith('bash -c') && command.includes('cpmigrate-pid') && argv[host]
      ? { stdout: `@@cpmigrate-pid 4${host.length}\n${argv[host].join('\n')}\n\n`, stderr: '', exitCode: 0 }
      : undefined;
  const setup = (newArgv: string[]) => {
    const hosts = new FakeHosts();
    for (const h of ['oldmaster-1', 'master-1']) hosts.host(h).running.add('kube-scheduler');
    hosts.handlers.push(
      scan({ 'oldmaster-1': ['/usr/bin/kube-scheduler', '--bind-address=10.200.20.11', '--leader-elect=true', '--profiling=false'], 'master-1': newArgv }),
    );
    return { hosts, acts: createControlPlaneActivities({ hostOps: () => hosts, pollMs: 5, healthDeadlineMs: 2_000 }) };
  };

  it('passes and says so when only per-host flags differ', async () => {
    const { acts } = setup(['/usr/bin/kube-scheduler', '--bind-address=10.200.20.101', '--leader-elect=true', '--profiling=false']);
    const r = await acts.waitComponentHealthy(plan, 'master-1', 'scheduler');
    expect(r.summary).toMatch(
      /kube-scheduler on master-1 healthy after .* s; flag parity with oldmaster-1: 3 flags compared, 0 non-per-host difference\(s\); per host: --bind-address$/,
    );
  });

  it('refuses (FlagParityError, non-retryable) with every difference listed, and runs nothing but reads', async () => {
    const { acts, hosts } = setup(['/usr/bin/kube-scheduler', '--bind-address=10.200.20.101', '--leader-elect=false']);
    const err = await acts.waitComponentHealthy(plan, 'master-1', 'scheduler').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlagParityError);
    const msg = (err as Error).message;
    expect(msg).toContain("kube-scheduler on master-1 does not run with oldmaster-1's flags: 2 difference(s) that are not per-host");
    expect(msg).toContain('* --leader-elect changed (true → false)');
    expect(msg).toContain('* --profiling missing on the new master (old: false)');
    expect(msg).toContain("- --bind-address changed (10.200.20.11 → 10.200.20.101): oldmaster-1's own address/name, as master-1's");
    expect(hosts.commands.every((c) => /^(systemctl is-active|bash -c|curl |stat )/.test(c.command) || c.command.startsWith('cat '))).toBe(true);
    expect(hosts.commands.some((c) => /systemctl (start|stop|restart)/.test(c.command))).toBe(false);
  });

  it('does not check old masters (their flags are the reference)', async () => {
    const { acts, hosts } = setup(['x']);
    await acts.waitComponentHealthy(plan, 'oldmaster-1', 'scheduler');
    expect(hosts.commands.some((c) => c.command.includes('cpmigrate-pid'))).toBe(false);
  });
});

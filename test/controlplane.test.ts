/**
 * Control-plane activities against an in-memory HostOps (no network): the
 * "copy and modify" rewrites, idempotence, restarts on change, start/stop
 * guards and the health wait. The same activities run against the real lab in
 * test/lab.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createControlPlaneActivities } from '../src/activities/controlplane';
import type { ProbeResult } from '../src/activities/readyz';
import { ensureFlag, replaceAddress, rewriteApiserverConfig, rewriteNginxUpstream, setFlag } from '../src/activities/rewrite';
import { PlanMismatchError, UnsafeOperationError } from '../src/errors';
import { FakeHosts } from './support/fake-hosts';
import { testPlan } from './support/plans';

const plan = testPlan();
const NEW_ETCD = plan.newMasters.map((h) => h.etcd.clientURL);
const OLD_ENV =
  'KUBE_APISERVER_ARGS="--advertise-address=10.200.20.11 --bind-address=10.200.20.11 --secure-port=8686 ' +
  '--etcd-servers=http://10.200.20.11:2379,http://10.200.20.12:2379,http://10.200.20.13:2379 --tls-cert-file=/etc/kubernetes/pki/apiserver.crt"\n';
const MANIFEST = [
  'apiVersion: v1',
  'kind: Pod',
  'spec:',
  '  containers:',
  '  - command:',
  '    - kube-apiserver',
  '    - --advertise-address=10.200.20.11',
  '    - --etcd-servers=http://10.200.20.11:2379,http://10.200.20.12:2379',
  '    - "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt"',
  '',
].join('\n');

describe('config rewrites', () => {
  it('adapts a one-line env file: etcd servers, advertise and bind address, apiserver-count added in place', () => {
    const r = rewriteApiserverConfig(
      OLD_ENV,
      { etcdServers: NEW_ETCD, sourceAddress: '10.200.20.11', address: '10.200.20.101', apiserverCount: 2 },
      'apiserver.env',
    );
    expect(r.text).toBe(
      'KUBE_APISERVER_ARGS="--advertise-address=10.200.20.101 --bind-address=10.200.20.101 --secure-port=8686 ' +
        `--etcd-servers=${NEW_ETCD.join(',')} --apiserver-count=2 --tls-cert-file=/etc/kubernetes/pki/apiserver.crt"\n`,
    );
    expect(r.notes).toContain('added --apiserver-count=2');
  });

  it('adapts a static-pod manifest, inserting a new flag as its own list item', () => {
    const r = rewriteApiserverConfig(
      MANIFEST,
      { etcdServers: NEW_ETCD, sourceAddress: '10.200.20.11', address: '10.200.20.101', apiserverCount: 3 },
      'kube-apiserver.yaml',
    );
    expect(r.text).toContain(`    - --etcd-servers=${NEW_ETCD.join(',')}\n    - --apiserver-count=3\n`);
    expect(r.text).toContain('    - --advertise-address=10.200.20.101\n');
    expect(r.text).toContain('    - "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt"');
  });

  it('keeps the quoting of quoted list items and replaces an existing flag instead of adding one', () => {
    const text = '    - "--etcd-servers=http://a:2379"\n    - "--apiserver-count=3"\n';
    expect(ensureFlag(text, 'apiserver-count', '2', 'etcd-servers').text).toBe('    - "--etcd-servers=http://a:2379"\n    - "--apiserver-count=2"\n');
    expect(ensureFlag('    - "--etcd-servers=http://a:2379"\n', 'apiserver-count', '2', 'etcd-servers').text).toBe(
      '    - "--etcd-servers=http://a:2379"\n    - "--apiserver-count=2"\n',
    );
  });

  it('replaces whole addresses only', () => {
    expect(replaceAddress('a 10.0.0.1 b 10.0.0.12 c 110.0.0.1 d 10.0.0.1:6443 e 10.0.0.1.5', '10.0.0.1', '10.9.9.9').text).toBe(
      'a 10.9.9.9 b 10.0.0.12 c 110.0.0.1 d 10.9.9.9:6443 e 10.0.0.1.5',
    );
  });

  it('refuses the "--flag VALUE" form rather than guessing', () => {
    expect(() => setFlag('--etcd-servers http://a:2379 --x=1', 'etcd-servers', 'v', 'f')).toThrow(/--etcd-servers=VALUE form/);
  });

  it('rewrites the nginx upstream, keeping other directives and the first server line parameters', () => {
    const conf = [
      'stream {',
      '    upstream kube_apiserver {',
      '        least_conn;',
      '        server 10.200.20.11:8686 max_fails=0 fail_timeout=10s;',
      '        server 10.200.20.12:8686 max_fails=0 fail_timeout=10s;',
      '        server 10.200.20.13:8686 backup;',
      '    }',
      '    server { listen 443; proxy_pass kube_apiserver; }',
      '}',
      '',
    ].join('\n');
    const r = rewriteNginxUpstream(conf, 'kube_apiserver', ['10.200.20.101:8686', '10.200.20.102:8686'], 'nginx.conf');
    expect(r.text).toBe(
      [
        'stream {',
        '    upstream kube_apiserver {',
        '        least_conn;',
        '        server 10.200.20.101:8686 max_fails=0 fail_timeout=10s;',
        '        server 10.200.20.102:8686 max_fails=0 fail_timeout=10s;',
        '    }',
        '    server { listen 443; proxy_pass kube_apiserver; }',
        '}',
        '',
      ].join('\n'),
    );
    expect(() => rewriteNginxUpstream(conf, 'apiservers', [], 'nginx.conf')).toThrow(/no "upstream apiservers/);
  });
});

function cluster(): FakeHosts {
  const f = new FakeHosts();
  for (const h of plan.oldMasters) {
    const o = f.host(h.name);
    o.files.set(plan.paths.apiserverConfig, OLD_ENV.replace(/10\.200\.20\.11(?=[ "])/g, h.address));
    o.files.set(
      plan.paths.nginxConfig,
      `stream {\n    upstream kube_apiserver {\n${plan.oldMasters.map((x) => `        server ${x.address}:8686 max_fails=0;`).join('\n')}\n    }\n}\n`,
    );
    o.files.set(plan.paths.controllerManagerKubeconfig, 'clusters:\n- cluster:\n    server: https://127.0.0.1:8686\n');
    o.files.set(plan.paths.schedulerKubeconfig, 'clusters:\n- cluster:\n    server: https://127.0.0.1:8686\n');
    o.files.set(
      plan.paths.controllerManagerConfig,
      `KUBE_CONTROLLER_MANAGER_ARGS="--kubeconfig=${plan.paths.controllerManagerKubeconfig} --bind-address=${h.address}"\n`,
    );
    o.files.set(
      plan.paths.schedulerConfig,
      `KUBE_SCHEDULER_ARGS="--kubeconfig=${plan.paths.schedulerKubeconfig} --config=/etc/kubernetes/scheduler-config.yaml"\n`,
    );
    o.files.set('/etc/kubernetes/scheduler-config.yaml', 'apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n');
  }
  for (const h of plan.newMasters) {
    for (const p of ['ca.crt', 'apiserver.crt']) f.host(h.name).files.set(`${plan.paths.pkiDir}/${p}`, 'PEM');
  }
  return f;
}

const okProbe = async (): Promise<ProbeResult> => ({ ok: true, status: 200, body: 'ok' });

describe('control-plane activities (in-memory hosts)', () => {
  it('configures kube-apiserver from an old master, idempotently, and restarts it when the config changes under it', async () => {
    const f = cluster();
    const cp = createControlPlaneActivities({ hostOps: () => f, readyz: okProbe });
    const a = await cp.configureApiserver(plan, 'master-1', NEW_ETCD);
    expect(a.changed).toBe(true);
    const written = f.host('master-1').files.get(plan.paths.apiserverConfig) ?? '';
    expect(written).toContain(`--etcd-servers=${NEW_ETCD.join(',')} --apiserver-count=2`);
    expect(written).toContain('--advertise-address=10.200.20.101 --bind-address=10.200.20.101');
    expect(written).not.toContain('10.200.20.11');

    const b = await cp.configureApiserver(plan, 'master-1', NEW_ETCD);
    expect(b.changed).toBe(false);
    expect(b.summary).toMatch(/already up to date/);

    await cp.startComponent(plan, 'master-1', 'apiserver');
    const c = await cp.configureApiserver(plan, 'master-1', NEW_ETCD.slice(0, 2));
    expect(c.details?.restarted).toBe(true);
    expect(c.details?.backupPath).toMatch(/cpmigrate-bak-/);
    expect(f.commands.filter((x) => x.host === 'master-1' && x.command === "systemctl restart 'kube-apiserver'")).toHaveLength(1);
  });

  it('gives every pushed file the mode and owner of its source on the old master, never a default', async () => {
    const f = cluster();
    const o = f.host('oldmaster-1');
    o.meta.set(plan.paths.apiserverConfig, { mode: 0o600, owner: 'kube:kube' });
    o.meta.set(plan.paths.nginxConfig, { mode: 0o640, owner: 'root:nginx' });
    o.meta.set(plan.paths.controllerManagerKubeconfig, { mode: 0o600, owner: 'kube:kube' });
    o.meta.set(plan.paths.schedulerConfig, { mode: 0o604, owner: 'root:kube' });
    o.meta.set('/etc/kubernetes/scheduler-config.yaml', { mode: 0o640, owner: 'root:kube' });
    const cp = createControlPlaneActivities({ hostOps: () => f, readyz: okProbe });
    await cp.configureApiserver(plan, 'master-1', NEW_ETCD);
    await cp.configureApiserverLb(plan, 'master-1');
    await cp.configureControllerManagerScheduler(plan, 'master-1');
    const n = f.host('master-1').meta;
    expect(n.get(plan.paths.apiserverConfig)).toEqual({ mode: 0o600, owner: 'kube:kube' });
    expect(n.get(plan.paths.nginxConfig)).toEqual({ mode: 0o640, owner: 'root:nginx' });
    expect(n.get(plan.paths.controllerManagerKubeconfig)).toEqual({ mode: 0o600, owner: 'kube:kube' });
    expect(n.get(plan.paths.schedulerConfig)).toEqual({ mode: 0o604, owner: 'root:kube' });
    expect(n.get('/etc/kubernetes/scheduler-config.yaml')).toEqual({ mode: 0o640, owner: 'root:kube' });
    // a source whose mode changed later: the drift is fixed on the next run (metadata-only change)
    o.meta.set(plan.paths.apiserverConfig, { mode: 0o640, owner: 'kube:kube' });
    const again = await cp.configureApiserver(plan, 'master-1', NEW_ETCD);
    expect(n.get(plan.paths.apiserverConfig)).toEqual({ mode: 0o640, owner: 'kube:kube' });
    expect(again.changed).toBe(true);
  });

  it('restarts from the state of the host: a config written by an attempt that died before the restart is applied by the retry', async () => {
    const f = cluster();
    const cp = createControlPlaneActivities({ hostOps: () => f, readyz: okProbe });
    await cp.configureApiserver(plan, 'master-1', NEW_ETCD);
    await cp.startComponent(plan, 'master-1', 'apiserver');
    const restarts = () => f.commands.filter((x) => x.host === 'master-1' && x.command === "systemctl restart 'kube-apiserver'").length;
    // the first attempt pushed the new config and the worker died before it restarted the apiserver:
    await cp.configureApiserver(plan, 'master-1', NEW_ETCD.slice(0, 2)); // the file is now as desired ...
    const before = restarts();
    const stamp = [...f.host('master-1').files.keys()].find((k) => k.endsWith('.cpmigrate-applied'));
    expect(stamp).toBeDefined();
    f.host('master-1').files.set(stamp as string, 'digest-of-the-config-it-was-started-with\n'); // ... but the process runs the old one
    const retry = await cp.configureApiserver(plan, 'master-1', NEW_ETCD.slice(0, 2));
    expect(retry.changed).toBe(false); // nothing to write
    expect(retry.details?.restarted).toBe(true); // and still restarted: the running process had another config
    expect(restarts()).toBe(before + 1);
    // converged: a third run neither writes nor restarts
    const third = await cp.configureApiserver(plan, 'master-1', NEW_ETCD.slice(0, 2));
    expect(third.details?.restarted).toBe(false);
    expect((await cp.startComponent(plan, 'master-1', 'apiserver')).summary).toMatch(/already running/);
  });

  it('a worker that dies right after the restart command returned does not cause a second restart on the retry', async () => {
    const f = cluster();
    const cp = createControlPlaneActivities({ hostOps: () => f, readyz: okProbe });
    await cp.configureApiserver(plan, 'master-1', NEW_ETCD);
    await cp.startComponent(plan, 'master-1', 'apiserver');
    const restarts = () => f.commands.filter((x) => x.host === 'master-1' && x.command === "systemctl restart 'kube-apiserver'").length;
    // the next attempt's restart runs on the host, and the worker dies before anything else happens (failpoint restart.apiserver.after-restart)
    const run = f.run.bind(f);
    let died = false;
    f.run = async (t, command, opts) => {
      const r = await run(t, command, opts);
      if (!died && t.name === 'master-1' && /systemctl restart 'kube-apiserver'/.test(command)) {
        died = true;
        throw new Error('worker died (SIGKILL) after the restart');
      }
      return r;
    };
    await expect(cp.configureApiserver(plan, 'master-1', NEW_ETCD.slice(0, 2))).rejects.toThrow(/worker died/);
    expect(restarts()).toBe(1);
    // the stamp went with the restart, in the same command on the host: the retry sees the running process current
    const retry = await cp.configureApiserver(plan, 'master-1', NEW_ETCD.slice(0, 2));
    expect(retry.details?.restarted).toBe(false);
    expect(restarts()).toBe(1);
  });

  it('copies from the next old master when the first is unreachable', async () => {
    const f = cluster();
    f.host('oldmaster-1').unreachable = true;
    const cp = createControlPlaneActivities({ hostOps: () => f });
    const r = await cp.configureApiserver(plan, 'master-2', NEW_ETCD);
    expect(r.details?.source).toBe('oldmaster-2');
    expect(f.host('master-2').files.get(plan.paths.apiserverConfig)).toContain('--advertise-address=10.200.20.102');
  });

  it('refuses a config whose referenced files are missing on the new master (PKI not copied yet)', async () => {
    const f = cluster();
    f.host('master-3').files.clear();
    const cp = createControlPlaneActivities({ hostOps: () => f });
    await expect(cp.configureApiserver(plan, 'master-3', NEW_ETCD)).rejects.toThrow(PlanMismatchError);
    await expect(cp.configureApiserver(plan, 'master-3', NEW_ETCD)).rejects.toThrow(/apiserver\.crt/);
    expect(f.host('master-3').files.has(plan.paths.apiserverConfig)).toBe(false);
  });

  it('points the new LB at the new apiservers and copies controller-manager/scheduler files with the address adapted', async () => {
    const f = cluster();
    const cp = createControlPlaneActivities({ hostOps: () => f });
    await cp.configureApiserverLb(plan, 'master-2');
    expect(f.host('master-2').files.get(plan.paths.nginxConfig)).toContain(
      plan.newMasters.map((h) => `        server ${h.address}:8686 max_fails=0;`).join('\n'),
    );
    const r = await cp.configureControllerManagerScheduler(plan, 'master-2');
    expect(r.changed).toBe(true);
    expect(f.host('master-2').files.get(plan.paths.controllerManagerConfig)).toContain('--bind-address=10.200.20.102');
    // a file the scheduler config refers to is copied along
    expect(f.host('master-2').files.get('/etc/kubernetes/scheduler-config.yaml')).toContain('KubeSchedulerConfiguration');
    expect((await cp.configureControllerManagerScheduler(plan, 'master-2')).changed).toBe(false);
  });

  it('start and stop are idempotent', async () => {
    const f = cluster();
    const cp = createControlPlaneActivities({ hostOps: () => f });
    expect((await cp.startComponent(plan, 'master-1', 'scheduler')).changed).toBe(true);
    expect((await cp.startComponent(plan, 'master-1', 'scheduler')).summary).toMatch(/already running/);
    expect((await cp.stopComponent(plan, 'master-1', 'scheduler')).changed).toBe(true);
    expect((await cp.stopComponent(plan, 'master-1', 'scheduler')).summary).toMatch(/already stopped/);
  });

  it('refuses to stop the LB on the VIP holder, or the last keepalived', async () => {
    const f = cluster();
    const cp = createControlPlaneActivities({ hostOps: () => f });
    const o1 = f.host('oldmaster-1');
    o1.running.add('apiserver-nginx-lb').add('keepalived');
    o1.addrs.push('10.200.20.11', plan.loadBalancer.vip);
    await expect(cp.stopComponent(plan, 'oldmaster-1', 'loadBalancer')).rejects.toThrow(UnsafeOperationError);
    await expect(cp.stopComponent(plan, 'oldmaster-1', 'keepalived')).rejects.toThrow(/no other master runs keepalived/);
    f.host('master-1').running.add('keepalived');
    expect((await cp.stopComponent(plan, 'oldmaster-1', 'keepalived')).changed).toBe(true);
  });

  it('fails closed (retryable) when it cannot list the addresses of the LB host', async () => {
    const f = cluster();
    const cp = createControlPlaneActivities({ hostOps: () => f });
    f.host('oldmaster-1').running.add('apiserver-nginx-lb');
    f.handlers.push((host, command) =>
      host === 'oldmaster-1' && command === 'ip -4 -o addr show' ? { stdout: '', stderr: 'ip: command not found', exitCode: 127 } : undefined,
    );
    const err = await cp.stopComponent(plan, 'oldmaster-1', 'loadBalancer').catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(UnsafeOperationError);
    expect((err as Error).message).toMatch(/cannot tell whether oldmaster-1 holds the VIP .*exited 127/);
    expect(f.host('oldmaster-1').running.has('apiserver-nginx-lb')).toBe(true);
  });

  it('waits for /readyz (heartbeating) and fails fast when the component does not stay up', async () => {
    const f = cluster();
    let calls = 0;
    const cp = createControlPlaneActivities({
      hostOps: () => f,
      pollMs: 10,
      notRunningGraceMs: 100,
      readyz: async () => (++calls < 3 ? { ok: false, status: 500, body: '[-]etcd failed' } : { ok: true, status: 200 }),
    });
    f.host('master-1').running.add('kube-apiserver');
    const r = await cp.waitComponentHealthy(plan, 'master-1', 'apiserver');
    expect(r.summary).toMatch(/kube-apiserver on master-1 healthy/);
    expect(calls).toBe(3);
    await expect(cp.waitComponentHealthy(plan, 'master-2', 'apiserver')).rejects.toThrow(/kube-apiserver on master-2 is not running .* does not stay up/);
  });

  it('gives up at the deadline naming what it saw', async () => {
    const f = cluster();
    f.host('master-1').running.add('apiserver-nginx-lb');
    const cp = createControlPlaneActivities({
      hostOps: () => f,
      pollMs: 10,
      healthDeadlineMs: 100,
      readyz: async () => ({ ok: false, error: 'ECONNREFUSED' }),
    });
    await expect(cp.waitComponentHealthy(plan, 'master-1', 'loadBalancer')).rejects.toThrow(
      /apiserver-nginx-lb on master-1 not healthy after 0 s: ECONNREFUSED/,
    );
  });

  it('rejects hosts that are not masters of the plan', async () => {
    const cp = createControlPlaneActivities({ hostOps: () => new FakeHosts() });
    await expect(cp.startComponent(plan, 'nope', 'apiserver')).rejects.toThrow(PlanMismatchError);
  });
});

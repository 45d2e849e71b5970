/**
 * VIP activities against an in-memory HostOps (no network): keepalived.conf
 * parsing and rendering, the transport rules that prevent a split brain, the
 * VRRP password check, and verifyVip's holder logic. The real handover is
 * measured against the lab in test/lab.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseKeepalived, vrrpInstances } from '../src/activities/keepalived-conf';
import { createVipActivities } from '../src/activities/vip';
import { PlanMismatchError, UnsafeOperationError } from '../src/errors';
import { planSchema, type Plan } from '../src/plan/schema';
import { FakeHosts } from './support/fake-hosts';
import { examplePlanInput } from './support/plans';

const dir = mkdtempSync(join(tmpdir(), 'cpm-vip-'));
const passFile = join(dir, 'vrrp-pass');
writeFileSync(passFile, 's3cret12\n', { mode: 0o600 });
const plan: Plan = planSchema.parse({ ...examplePlanInput(), keepalived: { ...examplePlanInput().keepalived, authPassFile: passFile } });
const VIP = plan.loadBalancer.vip;

function oldConf(h: { name: string; address: string }, prio: number, peers?: string[], pass = 's3cret12'): string {
  return [
    '! Configuration File for keepalived',
    'global_defs {',
    `   router_id ${h.name}`,
    '}',
    'vrrp_script chk_nginx {',
    '    script "/usr/bin/pgrep nginx"',
    '}',
    'vrrp_instance VI_1 {',
    '    state BACKUP',
    '    interface eth0',
    '    virtual_router_id 51',
    `    priority ${prio}`,
    '    advert_int 1',
    ...(peers ? [`    unicast_src_ip ${h.address}`, '    unicast_peer {', ...peers.filter((p) => p !== h.address).map((p) => `        ${p}`), '    }'] : []),
    '    authentication {',
    '        auth_type PASS',
    `        auth_pass ${pass}   # shared`,
    '    }',
    '    virtual_ipaddress {',
    `        ${VIP}/24 dev eth0 label eth0:vip`,
    '    }',
    '    track_script {',
    '        chk_nginx',
    '    }',
    '}',
    '',
  ].join('\n');
}

function cluster(peers?: 'old' | 'all'): FakeHosts {
  const f = new FakeHosts();
  const all = [...plan.oldMasters, ...plan.newMasters].map((h) => h.address);
  const old = plan.oldMasters.map((h) => h.address);
  plan.oldMasters.forEach((h, i) => {
    f.host(h.name).files.set(plan.paths.keepalivedConfig, oldConf(h, 100 - i, peers === 'all' ? all : peers === 'old' ? old : undefined));
    f.host(h.name).running.add('keepalived');
    f.host(h.name).addrs.push(h.address);
    f.host(h.name).files.set(`${plan.paths.pkiDir}/ca.crt`, 'PEM');
  });
  for (const h of plan.newMasters) {
    f.host(h.name).files.set(`${plan.paths.pkiDir}/ca.crt`, 'PEM');
    f.host(h.name).addrs.push(h.address);
  }
  f.host('oldmaster-1').addrs.push(VIP);
  return f;
}

const ok = async () => ({ ok: true, status: 200 });

describe('keepalived.conf parsing', () => {
  it('reads the VRRP instance, ignoring comments and blocks it does not need', () => {
    const [i] = vrrpInstances(parseKeepalived(oldConf({ name: 'oldmaster-1', address: '10.200.20.11' }, 100, ['10.200.20.11', '10.200.20.12'])));
    expect(i).toMatchObject({
      name: 'VI_1',
      virtualRouterId: 51,
      priority: 100,
      interface: 'eth0',
      advertInt: '1',
      unicastPeers: ['10.200.20.12'],
      authType: 'PASS',
      authPass: 's3cret12',
    });
    expect(i?.vips).toEqual([[`${VIP}/24`, 'dev', 'eth0', 'label', 'eth0:vip']]);
    expect(i?.others).toEqual(['track_script']);
  });
});

describe('configureKeepalived (in-memory hosts)', () => {
  it('multicast old masters: the new master joins by multicast, same instance, higher priority, same password; starts keepalived', async () => {
    const f = cluster();
    const vip = createVipActivities({ hostOps: () => f, readyz: ok });
    const r = await vip.configureKeepalived(plan, 'master-1');
    const conf = f.host('master-1').files.get(plan.paths.keepalivedConfig) ?? '';
    const [i] = vrrpInstances(parseKeepalived(conf));
    expect(i).toMatchObject({
      name: 'VI_1',
      virtualRouterId: 51,
      priority: 150,
      interface: 'eth0',
      unicastPeers: undefined,
      authType: 'PASS',
      authPass: 's3cret12',
    });
    expect(i?.vips[0]?.[0]).toBe(`${VIP}/24`);
    expect(f.host('master-1').running.has('keepalived')).toBe(true);
    expect(JSON.stringify(r)).not.toContain('s3cret12');
    expect(r.summary).toMatch(/priority 150, multicast/);
    const again = await vip.configureKeepalived(plan, 'master-1');
    expect(again.changed).toBe(false);
  });

  it('carries vrrp_script, track_script, track_interface, notify* and global settings, remapped to the new host, with the source file mode; keepalived -t accepts it', async () => {
    const f = cluster();
    const o = f.host('oldmaster-1');
    const base = o.files.get(plan.paths.keepalivedConfig) ?? '';
    const src = base
      .replace('   router_id oldmaster-1', '   router_id oldmaster-1\n   script_user root\n   enable_script_security')
      .replace(
        '    track_script {',
        '    track_interface {\n        lo weight -20\n    }\n    notify_master "/etc/keepalived/notify.sh master 10.200.20.11 oldmaster-1"\n    notify_backup /etc/keepalived/notify.sh\n    nopreempt\n    track_script {',
      )
      .replace(
        'vrrp_script chk_nginx {\n    script "/usr/bin/pgrep nginx"\n}',
        'vrrp_script chk_nginx {\n    script "/usr/bin/curl -sfk https://10.200.20.11:443/healthz"\n    interval 2\n    weight -30\n    fall 2\n}',
      );
    o.files.set(plan.paths.keepalivedConfig, src);
    o.meta.set(plan.paths.keepalivedConfig, { mode: 0o600, owner: 'root:keepalived' });
    const vip = createVipActivities({ hostOps: () => f, readyz: ok });
    const r = await vip.configureKeepalived(plan, 'master-1');
    const conf = f.host('master-1').files.get(plan.paths.keepalivedConfig) ?? '';
    expect(conf).toContain(
      'vrrp_script chk_nginx {\n    script "/usr/bin/curl -sfk https://10.200.20.101:443/healthz"\n    interval 2\n    weight -30\n    fall 2\n}',
    );
    expect(conf).toContain('    track_script {\n        chk_nginx\n    }');
    expect(conf).toContain('    track_interface {\n        lo weight -20\n    }');
    expect(conf).toContain('    notify_master "/etc/keepalived/notify.sh master 10.200.20.101 master-1"');
    expect(conf).toContain('    notify_backup /etc/keepalived/notify.sh');
    expect(conf).toContain('    script_user root\n    enable_script_security\n');
    expect(conf).not.toMatch(/10\.200\.20\.1[1-3]\b|oldmaster-1|nopreempt/);
    expect(r.details?.carried).toEqual([
      'global_defs script_user',
      'global_defs enable_script_security',
      'vrrp_script chk_nginx',
      'track_interface',
      'notify_master',
      'notify_backup',
      'track_script',
    ]);
    expect(String(r.details?.notes)).toMatch(/nopreempt/);
    expect(r.summary).toMatch(/carried from oldmaster-1: .*vrrp_script chk_nginx/);
    expect(f.host('master-1').meta.get(plan.paths.keepalivedConfig)).toEqual({ mode: 0o600, owner: 'root:keepalived' });
    // the real keepalived parses what we wrote (it checks that the interfaces exist: use one of this machine's)
    const iface = readdirSync('/sys/class/net').find((n) => n !== 'lo' && !n.startsWith('cpm-'));
    expect(iface).toBeDefined();
    const file = join(dir, 'keepalived-master-1.conf');
    writeFileSync(file, conf.replace(/\beth0\b/g, iface as string));
    const t = spawnSync('keepalived', ['-t', '-f', file, '-l', '-n'], { encoding: 'utf8', timeout: 10_000 });
    expect(t.status, `${t.stdout}${t.stderr}`).toBe(0);
  });

  it('refuses a block naming another old master (it cannot be remapped), shows it, and writes nothing', async () => {
    const f = cluster();
    const o = f.host('oldmaster-1');
    o.files.set(
      plan.paths.keepalivedConfig,
      (o.files.get(plan.paths.keepalivedConfig) ?? '').replace('script "/usr/bin/pgrep nginx"', 'script "/usr/bin/ping -c1 10.200.20.12"'),
    );
    const vip = createVipActivities({ hostOps: () => f, readyz: ok });
    const err = (await vip.configureKeepalived(plan, 'master-1').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(PlanMismatchError);
    expect(err.message).toMatch(/cannot be remapped/);
    expect(err.message).toContain('--- names 10.200.20.12:\nvrrp_script chk_nginx {\n    script "/usr/bin/ping -c1 10.200.20.12"\n}');
    expect(f.host('master-1').files.has(plan.paths.keepalivedConfig)).toBe(false);
  });

  it('unicast old masters that already list the new ones: unicast with every other master as peer', async () => {
    const f = cluster('all');
    const vip = createVipActivities({ hostOps: () => f, readyz: ok });
    await vip.configureKeepalived(plan, 'master-2');
    const [i] = vrrpInstances(parseKeepalived(f.host('master-2').files.get(plan.paths.keepalivedConfig) ?? ''));
    expect(i?.unicastPeers?.sort()).toEqual(
      [...plan.oldMasters, ...plan.newMasters]
        .map((h) => h.address)
        .filter((a) => a !== '10.200.20.102')
        .sort(),
    );
  });

  it('refuses when the old masters unicast only among themselves (split-brain risk), and writes nothing', async () => {
    const f = cluster('old');
    const vip = createVipActivities({ hostOps: () => f, readyz: ok });
    const err = await vip.configureKeepalived(plan, 'master-1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeOperationError);
    expect((err as Error).message).toMatch(/split-brain risk.*oldmaster-1 does not list 10\.200\.20\.101, 10\.200\.20\.102, 10\.200\.20\.103/);
    expect(f.host('master-1').files.has(plan.paths.keepalivedConfig)).toBe(false);
  });

  it('refuses a password file that differs from the old masters (without printing either)', async () => {
    const f = cluster();
    f.host('oldmaster-2').files.set(plan.paths.keepalivedConfig, oldConf(plan.oldMasters[1] as Plan['oldMasters'][number], 99, undefined, 'other123'));
    const vip = createVipActivities({ hostOps: () => f, readyz: ok });
    const err = (await vip.configureKeepalived(plan, 'master-1').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(UnsafeOperationError);
    expect(err.message).toMatch(/differs .* on oldmaster-2/);
    expect(err.message).not.toMatch(/s3cret12|other123/);
  });

  it('refuses to start keepalived where the API does not answer through the local LB', async () => {
    const f = cluster();
    const vip = createVipActivities({ hostOps: () => f, readyz: async () => ({ ok: false, error: 'ECONNREFUSED' }) });
    await expect(vip.configureKeepalived(plan, 'master-1')).rejects.toThrow(/dead LB/);
    expect(f.host('master-1').running.has('keepalived')).toBe(false);
  });

  it('names the plan field when the old masters have no instance with the plan virtual_router_id', async () => {
    const f = cluster();
    for (const h of plan.oldMasters)
      f.host(h.name).files.set(
        plan.paths.keepalivedConfig,
        (f.host(h.name).files.get(plan.paths.keepalivedConfig) ?? '').replace('virtual_router_id 51', 'virtual_router_id 52'),
      );
    const vip = createVipActivities({ hostOps: () => f, readyz: ok });
    await expect(vip.configureKeepalived(plan, 'master-1')).rejects.toThrow(PlanMismatchError);
  });
});

describe('verifyVip (in-memory hosts)', () => {
  it('reports the single holder on the expected side and the API through the VIP', async () => {
    const f = cluster();
    const vip = createVipActivities({ hostOps: () => f, readyz: ok, pollMs: 10 });
    const r = await vip.verifyVip(plan, 'old');
    expect(r).toMatchObject({ holders: ['oldmaster-1'], readyzThroughVip: true });
  });

  it('waits while the VIP is on the wrong side, then fails with what it saw', async () => {
    const f = cluster();
    const vip = createVipActivities({ hostOps: () => f, readyz: ok, pollMs: 10, verifyDeadlineMs: 200 });
    await expect(vip.verifyVip(plan, 'new')).rejects.toThrow(/held by oldmaster-1, on the wrong side \(expected new\)/);
  });

  it('never passes while a master cannot be checked (it might still hold the VIP), and names it', async () => {
    const f = cluster();
    f.host('master-1').addrs.push(VIP);
    f.host('oldmaster-1').addrs.splice(f.host('oldmaster-1').addrs.indexOf(VIP), 1);
    f.host('oldmaster-2').unreachable = true;
    f.handlers.push((host, command) => (host === 'oldmaster-3' && command === 'ip -4 -o addr show' ? { stdout: '', stderr: 'boom', exitCode: 1 } : undefined));
    const vip = createVipActivities({ hostOps: () => f, readyz: ok, pollMs: 10, verifyDeadlineMs: 200 });
    const err = (await vip.verifyVip(plan, 'new').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(UnsafeOperationError);
    expect(err.message).toMatch(/cannot verify the VIP 10\.200\.20\.241: could not check oldmaster-2, oldmaster-3 .*held by master-1/);
    // once every host answers, the same state verifies
    f.host('oldmaster-2').unreachable = false;
    f.handlers = [];
    expect(await vip.verifyVip(plan, 'new')).toMatchObject({ holders: ['master-1'], readyzThroughVip: true });
  });

  it('calls a lasting double holding a split brain', async () => {
    const f = cluster();
    f.host('master-1').addrs.push(VIP);
    const vip = createVipActivities({ hostOps: () => f, readyz: ok, pollMs: 50, verifyDeadlineMs: 30_000 });
    const t0 = Date.now();
    await expect(vip.verifyVip(plan, 'new')).rejects.toThrow(/split brain: the VIP 10\.200\.20\.241 is held by oldmaster-1 and master-1/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5_000);
  });
});

/** `~/` in worker-side plan paths: expanded once, for every activity; host-side `~` paths found for preflight. */
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { withExpandedPaths } from '../src/activities/index';
import { expandHome, expandPlanPaths, hostPathsWithTilde } from '../src/lib/paths';
import { planSchema, type Plan } from '../src/plan/schema';
import { examplePlanInput } from './support/plans';

const input = examplePlanInput();
const plan: Plan = planSchema.parse({
  ...input,
  kubeconfig: '~/.kube/config',
  defaults: { ssh: { ...input.defaults?.ssh, privateKeyPath: '~/.ssh/id_ed25519', knownHostsPath: '~/.ssh/known_hosts' } },
  etcd: { ...input.etcd, snapshotPath: '~/backups/etcd.db', tls: { caFile: '~/pki/ca.crt', certFile: '~/pki/c.crt', keyFile: '/abs/c.key' } },
  keepalived: { ...input.keepalived, authPassFile: '~/vrrp-pass' },
  paths: { ...input.paths, etcdConfig: '~/etcd.yml' },
});
const home = os.homedir();

describe('~/ expansion', () => {
  it('expands every worker-side path of the plan, and no host-side one', () => {
    const p = expandPlanPaths(plan);
    expect(p.kubeconfig).toBe(`${home}/.kube/config`);
    expect(p.defaults.ssh.privateKeyPath).toBe(`${home}/.ssh/id_ed25519`);
    expect(p.defaults.ssh.knownHostsPath).toBe(`${home}/.ssh/known_hosts`);
    expect(p.etcd.snapshotPath).toBe(`${home}/backups/etcd.db`);
    expect(p.etcd.tls).toEqual({ caFile: `${home}/pki/ca.crt`, certFile: `${home}/pki/c.crt`, keyFile: '/abs/c.key' });
    expect(p.keepalived.authPassFile).toBe(`${home}/vrrp-pass`);
    expect(p.paths.etcdConfig).toBe('~/etcd.yml');
    expect(plan.kubeconfig).toBe('~/.kube/config'); // the input is not changed
    expect(expandHome('~')).toBe(home);
    expect(expandHome('/a/~/b')).toBe('/a/~/b');
  });

  it('every activity gets the expanded plan (one wrapper, wired in createActivities)', async () => {
    const seen: string[] = [];
    const acts = withExpandedPaths({ a: async (p: Plan, host: string) => seen.push(`${p.kubeconfig} ${host}`), b: async (x: number) => seen.push(String(x)) });
    await acts.a(plan, 'master-1');
    await acts.b(7);
    expect(seen).toEqual([`${home}/.kube/config master-1`, '7']);
  });

  it('lists host-side paths that start with ~ (nothing on a host would expand them)', () => {
    expect(hostPathsWithTilde(plan)).toEqual(['paths.etcdConfig = ~/etcd.yml']);
  });
});

/**
 * Hosts as network namespaces on one bridge. The host side of the bridge has
 * 198.18.0.1 so the worker process reaches every lab host; namespaces get no
 * default route, IPv6 is off, ip_forward is left as it is: traffic stays on the bridge.
 */
import { BRIDGE, BRIDGE_ADDR, HOSTS, IFACE, SUBNET_PREFIX, type LabHost } from './layout';
import { must, run } from './exec';

const ip = (...args: string[]) => must(['ip', ...args]);

async function linkExists(name: string, netns?: string): Promise<boolean> {
  const argv = netns ? ['ip', '-n', netns, 'link', 'show', name] : ['ip', 'link', 'show', name];
  return (await run(argv)).code === 0;
}

export async function namespaces(): Promise<string[]> {
  const out = await must(['ip', 'netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** Refuses to build the lab when another interface already uses the lab subnet. */
async function assertSubnetFree(): Promise<void> {
  const out = await must(['ip', '-4', '-o', 'addr', 'show']);
  const clash = out.split('\n').filter((l) => l.includes(` ${SUBNET_PREFIX}`) && !l.includes(` ${BRIDGE} `) && !l.includes(` ${BRIDGE}\\`));
  if (clash.length) throw new Error(`the lab subnet ${SUBNET_PREFIX}0/24 is already used on this machine:\n${clash.join('\n')}`);
}

async function bridgeUp(): Promise<void> {
  if (!(await linkExists(BRIDGE))) {
    await assertSubnetFree();
    await ip('link', 'add', BRIDGE, 'type', 'bridge');
  }
  await must(['sh', '-c', `echo 1 > /proc/sys/net/ipv6/conf/${BRIDGE}/disable_ipv6`]);
  const addrs = await ip('-4', '-o', 'addr', 'show', 'dev', BRIDGE);
  if (!addrs.includes(`${BRIDGE_ADDR}/24`)) await ip('addr', 'add', `${BRIDGE_ADDR}/24`, 'dev', BRIDGE);
  await ip('link', 'set', BRIDGE, 'up');
}

async function hostUp(h: LabHost): Promise<void> {
  if (!(await namespaces()).includes(h.name)) await ip('netns', 'add', h.name);
  if (!(await linkExists(h.veth))) {
    // a stale eth0 in the namespace (half-built lab) would block the peer name
    if (await linkExists(IFACE, h.name)) await ip('-n', h.name, 'link', 'del', IFACE);
    await ip('link', 'add', h.veth, 'type', 'veth', 'peer', 'name', IFACE, 'netns', h.name);
  }
  await must(['sh', '-c', `echo 1 > /proc/sys/net/ipv6/conf/${h.veth}/disable_ipv6`]);
  await ip('link', 'set', h.veth, 'master', BRIDGE, 'up');
  await must([
    'ip',
    'netns',
    'exec',
    h.name,
    'sh',
    '-c',
    [
      // /proc/sys/net is per network namespace (no procps needed)
      'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6',
      'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6',
      // lets an LB listen on the VIP before keepalived adds it (the lab's nginx listens on *:443)
      'echo 1 > /proc/sys/net/ipv4/ip_nonlocal_bind',
      `ip -4 -o addr show dev ${IFACE} | grep -q ' ${h.address}/24 ' || ip addr add ${h.address}/24 dev ${IFACE}`,
      `ip link set ${IFACE} up`,
      'ip link set lo up',
    ].join(' && '),
  ]);
}

export async function netUp(): Promise<void> {
  await bridgeUp();
  for (const h of HOSTS) await hostUp(h);
}

export async function netDown(): Promise<void> {
  const present = await namespaces();
  for (const h of HOSTS) {
    if (present.includes(h.name)) await ip('netns', 'del', h.name);
    // deleting the namespace usually takes the veth pair with it, asynchronously
    await run(['ip', 'link', 'del', h.veth]);
  }
  if (await linkExists(BRIDGE)) await ip('link', 'del', BRIDGE);
}

export interface NetStatus {
  bridge: boolean;
  missing: string[];
}

export async function netStatus(): Promise<NetStatus> {
  const present = await namespaces();
  return { bridge: await linkExists(BRIDGE), missing: HOSTS.map((h) => h.name).filter((n) => !present.includes(n)) };
}

/** Guard before any traffic to 198.18.0.x: the lab's namespaces and bridge must exist. */
export async function assertLabNetwork(): Promise<void> {
  const s = await netStatus();
  if (!s.bridge || s.missing.length) {
    throw new Error(
      `lab network is not up (bridge ${BRIDGE}: ${s.bridge ? 'present' : 'missing'}; missing namespaces: ${s.missing.join(', ') || 'none'}); run \`npm run lab -- up\``,
    );
  }
}

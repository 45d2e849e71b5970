/**
 * The lab in any shape (src/lab/layout.ts, `npm run lab -- up --old N --new M
 * [--shared NAME…] [--failed NAME]`) and the keepalived peer set derived from
 * a plan's shape (src/activities/vip.ts). Pure: nothing is built.
 */
import { describe, expect, it } from 'vitest';
import { vrrpPeerSet } from '../src/activities/vip';
import { shapeArgs } from '../src/lab/cli';
import { DEFAULT_SHAPE, hostsForShape } from '../src/lab/layout';
import { planSchema } from '../src/plan/schema';
import { replaceFailedInput, shapedInput } from './support/history-variants';

describe('lab shapes', () => {
  it("the default is the runbook's 3 → 3 with its names, addresses and priorities", () => {
    const hosts = hostsForShape(DEFAULT_SHAPE);
    expect(hosts.map((h) => `${h.name} ${h.role} ${h.address} ${h.keepalivedPriority ?? '-'}`)).toEqual([
      'oldmaster-1 old 198.18.0.11 100',
      'oldmaster-2 old 198.18.0.12 99',
      'oldmaster-3 old 198.18.0.13 98',
      'master-1 new 198.18.0.21 150',
      'master-2 new 198.18.0.22 140',
      'master-3 new 198.18.0.23 130',
      'worker-1 worker 198.18.0.31 -',
      'worker-2 worker 198.18.0.32 -',
    ]);
  });

  it('derives names, addresses and priorities for other shapes; kept and failed hosts are marked', () => {
    const h = hostsForShape({ old: 5, new: 3, shared: [] });
    expect(h.filter((x) => x.role === 'old').map((x) => x.address)).toEqual(['198.18.0.11', '198.18.0.12', '198.18.0.13', '198.18.0.14', '198.18.0.15']);
    expect(h.filter((x) => x.role === 'new').map((x) => x.name)).toEqual(['master-1', 'master-2', 'master-3']);
    const r = hostsForShape({ old: 3, new: 3, shared: ['oldmaster-1', 'oldmaster-2'], failed: 'oldmaster-3' });
    expect(r.filter((x) => x.kept).map((x) => x.name)).toEqual(['oldmaster-1', 'oldmaster-2']);
    expect(r.filter((x) => x.failed).map((x) => x.name)).toEqual(['oldmaster-3']);
    expect(r.filter((x) => x.role === 'new').map((x) => x.name)).toEqual(['master-1']);
  });

  it('refuses a bad shape with every problem named', () => {
    expect(() => hostsForShape({ old: 8, new: 0, shared: ['master-1'], failed: 'oldmaster-9' })).toThrow(
      /--old must be 1 to 7, not 8\n {2}--new must be 1 to 7, not 0\n {2}--shared master-1: not an old master.*\n {2}--shared lists 1 hosts but --new is 0\n {2}--failed oldmaster-9: not an old master/,
    );
    expect(() => hostsForShape({ old: 3, new: 3, shared: ['oldmaster-3'], failed: 'oldmaster-3' })).toThrow(
      /--failed oldmaster-3 is also --shared: a dead host cannot be kept/,
    );
  });

  it('parses the up flags', () => {
    expect(shapeArgs(['--old', '3', '--new', '3', '--shared', 'oldmaster-1', 'oldmaster-2', '--failed', 'oldmaster-3'])).toEqual({
      old: 3,
      new: 3,
      shared: ['oldmaster-1', 'oldmaster-2'],
      failed: 'oldmaster-3',
    });
    expect(shapeArgs(['--shared', 'oldmaster-1', '--shared', 'oldmaster-2', '--strategy', 'rolling'])).toEqual({
      old: 3,
      new: 3,
      shared: ['oldmaster-1', 'oldmaster-2'],
      strategy: 'rolling',
    });
    expect(shapeArgs([])).toEqual(DEFAULT_SHAPE);
    expect(() => shapeArgs(['--old', 'five'])).toThrow(/--old must be a number of masters \(1 to 7\), not five/);
    expect(() => shapeArgs(['--strategy', 'fast'])).toThrow(/--strategy must be grow-then-shrink or rolling, not fast/);
  });
});

describe('keepalived peer set from the shape', () => {
  it('both sides during the switch, each address once; a failed master left out', () => {
    const all = planSchema.parse(shapedInput(3, 3));
    expect(vrrpPeerSet(all)).toEqual(['10.200.20.11', '10.200.20.12', '10.200.20.13', '10.200.20.101', '10.200.20.102', '10.200.20.103']);
    const failed = planSchema.parse(replaceFailedInput());
    // oldmaster-1/2 kept (once each), oldmaster-3 dead: not a peer
    expect(vrrpPeerSet(failed)).toEqual(['10.200.20.11', '10.200.20.12', '10.200.20.101']);
  });

  it('a single old master without keepalived: the new side only', () => {
    const p = planSchema.parse(shapedInput(1, 3));
    const none = { ...p, keepalived: { ...p.keepalived, onOldMasters: false } };
    expect(vrrpPeerSet(none)).toEqual(['10.200.20.101', '10.200.20.102', '10.200.20.103']);
  });
});

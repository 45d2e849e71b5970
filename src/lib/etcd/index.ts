/**
 * etcd client plumbing on top of etcd3: a client factory from the plan, the
 * member list, a health probe that talks to every member on its own
 * endpoint, and the retry loop for membership changes.
 *
 * One concern a file:
 *   client.ts    the client from the plan (TLS, deadlines, fault handling)
 *   members.ts   member list, labels, voters, discovery
 *   health.ts    the per-member health probe, quorum input
 *   reconfig.ts  retrying a membership change while etcd refuses it for now
 *   snapshot.ts  streaming a verified snapshot
 *
 * Facts this file is built on (etcd 3.4, see NOTES.md):
 *  - member IDs are uint64: kept as decimal strings (etcd3 loads longs as String);
 *  - `status()` answers from whichever host the pool picks, so per-member
 *    health needs one client per endpoint;
 *  - learners answer `status` but refuse member list and alarms
 *    ("rpc not supported for learner");
 *  - with strict-reconfig-check a change fails with "unhealthy cluster" while
 *    any voter connected less than ~5 s ago; promote fails with "... in sync
 *    with leader" until the learner has caught up: both are retried here;
 *  - etcd3's default circuit breaker would then block every call for 5 s, so
 *    the client gets its own fault handling: no breaker, and only transport
 *    errors are retried on the next endpoint.
 */
export * from './client';
export * from './health';
export * from './members';
export * from './reconfig';
export * from './snapshot';

/** @deprecated import sleep from lib/sleep (kept while activities/etcd is being split) */
export { sleep } from '../sleep';

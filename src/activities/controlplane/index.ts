/**
 * Control-plane components on a host, over SSH: configure kube-apiserver, the
 * apiserver LB (nginx), controller-manager and scheduler on a new master by
 * "copy and modify" from an old master (runbook), start/stop any component
 * through the plan's service commands, and wait until one is healthy.
 *
 * Idempotent: a config already as desired is not rewritten (pushFile compares
 * sha256), a running component is not started again, a stopped one not stopped.
 * A config that changed under a running component restarts it, so file and
 * process agree.
 *
 * One concern a file:
 *   common.ts      dependencies, component labels, the cluster CA, a master's ports
 *   configs.ts     read from an old master, render (pure), push, referenced files
 *   configure.ts   configureApiserver, configureApiserverLb, configureControllerManagerScheduler
 *   start-stop.ts  startComponent, stopComponent (guarded)
 *   health.ts      waitComponentHealthy (probes, flag parity)
 */
import type { ControlPlaneDeps } from './common';
import { configureActivities } from './configure';
import { healthActivities } from './health';
import { startStopActivities } from './start-stop';

export { componentLabel, defaultReadyz, readCa, servicePortsOf, type ControlPlaneDeps, type ReadyzProbe } from './common';
export { readFromOldMaster, renderApiserverConfig, renderNginxConfig, type Source } from './configs';

export function createControlPlaneActivities(deps: ControlPlaneDeps) {
  return { ...configureActivities(deps), ...startStopActivities(deps), ...healthActivities(deps) };
}

export type ControlPlaneActivities = ReturnType<typeof createControlPlaneActivities>;

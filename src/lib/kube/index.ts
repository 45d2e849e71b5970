/**
 * Kubernetes helpers for the kube activities, one concern a file:
 *   client.ts        loading a kubeconfig, typed clients
 *   errors.ts        API failures as errors that name the object and the API reason
 *   node-changes.ts  label / taint change syntax and applying it (pure)
 *   drain.ts         drain classification, the PDB of a refused eviction (pure)
 *   workloads.ts     rollout progress, kube-proxy's server, Endpoints subsets (pure)
 */
export * from './client';
export * from './drain';
export * from './errors';
export * from './node-changes';
export * from './workloads';

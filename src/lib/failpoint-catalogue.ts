/**
 * Every failpoint, with the state the cluster is in when the worker dies
 * there. `cpmigrate dev failpoints` prints this table and docs/failpoints.md
 * is generated from it (scripts/gen-failpoints.ts). A failpoint sits between
 * two side effects; the retried activity must converge from that state.
 */

const COMPONENT_POINTS = {
  apiserver: 'kube-apiserver',
  loadBalancer: 'apiserver-nginx-lb',
  controllerManager: 'kube-controller-manager',
  scheduler: 'kube-scheduler',
  keepalived: 'keepalived',
} as const;

type Component = keyof typeof COMPONENT_POINTS;

function componentPoints<C extends Component>(c: C) {
  const label = COMPONENT_POINTS[c];
  return {
    [`config.${c}.after-write`]: `${label}'s new config is on the host, the running process (if any) still runs the old one`,
    [`start.${c}.after-start`]: `${label} was started, and the config it runs stamped in the same command; not yet enabled at boot nor health-checked`,
    [`restart.${c}.after-restart`]: `${label} was restarted on a changed config and stamped in the same command (the retry does not restart it again); not health-checked`,
    [`stop.${c}.after-stop`]: `${label} was stopped on one host; the next host (if any) not yet`,
  } as Record<`config.${C}.after-write` | `start.${C}.after-start` | `restart.${C}.after-restart` | `stop.${C}.after-stop`, string>;
}

export const FAILPOINTS = {
  // etcd snapshot
  'etcd.snapshot.after-stream': 'the snapshot is streamed to a temp file on the worker, not yet renamed into place',
  'etcd.snapshot.after-rename': 'the snapshot file is in place, its sidecar metadata (.json) not yet written',
  // etcd join: prepareDataDir -> member add -> config -> start -> catch up -> promote
  'etcd.join.after-data-dir-prep': "the new master's data dir is prepared; the cluster is unchanged",
  'etcd.join.after-member-add': 'the learner is in the member list; its config is not written and etcd is not started on the host',
  'etcd.join.after-config-write': "the learner's config (initial-cluster-state=existing) is on the host; etcd not started",
  'etcd.join.after-start': 'etcd runs on the new master as a learner, maybe still catching up; not promoted',
  'etcd.join.after-promote': 'the new member is a voter; the cluster has not been checked healthy since',
  // abandoning a failed join (compensation)
  'etcd.abandon.after-stop': 'etcd is stopped on the host whose join failed; its learner is still in the member list',
  // etcd remove: leader move -> member remove -> stop
  'etcd.remove.after-leader-move': 'leadership moved off the member being removed; the member is still in the list',
  'etcd.remove.after-member-remove': 'the member is out of the member list; etcd still runs on its host',
  'etcd.remove.after-stop': 'the member is removed and stopped; the cluster has not been checked healthy since',
  // etcd config rewrite after decommission
  'etcd.rewrite.after-baseline': 'the member had no applied stamp: the config it runs now (before the rewrite) is recorded as its stamp; nothing rewritten yet',
  'etcd.rewrite.after-write': "a new member's config lists only the live members; etcd not restarted (if a restart is needed)",
  'etcd.rewrite.after-restart': 'the member was restarted on its rewritten config; cluster not checked healthy since',
  // certificates
  'certs.pki.after-dirs': 'the PKI directories exist on the new master; no file copied yet',
  'certs.pki.after-copy': 'the PKI files are copied; not verified',
  'certs.apiserver.after-key': 'the new apiserver key is on the host, the old certificate still beside it (pair does not match)',
  'certs.apiserver.after-cert': 'the re-issued apiserver certificate and key are both on the host',
  'certs.etcd.after-ca': 'the etcd CA certificate is on the new master; its member certificates not yet',
  'certs.etcd.after-key': 'a new etcd member key is on the host, its certificate not yet',
  // kube objects
  'kube.drain.after-cordon': 'the new master is cordoned; no pod evicted yet',
  'kube.drain.after-eviction': 'some pods are evicted from the new master, others not yet',
  'kube.label.after-patch': 'the node labels are patched; the step has not recorded it',
  'kube.taint.after-patch': 'the node taints are patched; the step has not recorded it',
  'kube.uncordon.after-patch': 'the node is uncordoned; the step has not recorded it',
  'calico.after-patch': 'calico-config points at the new etcd members; calico pods not restarted',
  'calico.rollout.after-restart-request': 'the DaemonSet/Deployment has its restart annotation; the rollout is in progress',
  'monitoring.after-endpoints': 'the exporter Endpoints list the new masters; not recorded',
  // the cluster lock (/cpmigrate/lock/<cluster> in the cluster's etcd)
  'lock.acquire.after-put': 'the lock key holds this workflow on a fresh lease; the workflow has not recorded it (the retry finds it already ours)',
  'lock.release.after-delete': 'the lock key is deleted; its lease not yet revoked (it expires by itself), not recorded',
  'lock.break.after-delete': 'the stale lock is deleted and the audit record written, in one transaction; not recorded',
  // apiserver config: referenced files, then the main config
  'config.apiserver.after-referenced-files': 'files the apiserver config refers to are copied to the new master; its config not yet written',
  ...componentPoints('apiserver'),
  ...componentPoints('loadBalancer'),
  ...componentPoints('controllerManager'),
  ...componentPoints('scheduler'),
  ...componentPoints('keepalived'),
  // decommission: fencing the old side so a reboot brings nothing back
  'fence.after-disable': "the old master's components are disabled at boot; its keepalived config and etcd data dir are untouched",
  'fence.after-keepalived-neutralised': "the old master's keepalived config is moved aside; its etcd data dir not yet",
  'fence.after-data-dir-aside': "the old master's etcd data dir is moved aside: the fence is complete, not recorded",
  // client fixes (the client-fixes step, after its checkpoint): rewrite -> restart -> Ready; kube-proxy: patch -> roll
  'clientfix.file.after-write':
    'a kubelet/controller-manager/scheduler kubeconfig points at its new server (backup kept next to it); the running process still uses the old one',
  'clientfix.service.after-restart': 'the kubelet (or component) was restarted on its fixed kubeconfig; its Node is not yet seen Ready again',
  'clientfix.kubeproxy.after-patch': 'the kube-proxy ConfigMap points at the LB; its DaemonSet is not rolled, running pods still use the old server',
  'clientfix.revert.after-restore': 'compensation: the backup kubeconfig is back in place; the client is not restarted on it yet',
} as const;

export type FailpointName = keyof typeof FAILPOINTS;

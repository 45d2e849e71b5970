/**
 * Reasons preflight (and status) use to explain why a migration is blocked.
 * Stable names, reused everywhere; a probe that could not look says so with an
 * `...Unknown` reason instead of guessing. Only mutations throw.
 */
export const Reasons = {
  /** The host did not answer on SSH (network, sshd down, timeout). */
  SshUnreachable: 'SshUnreachable',
  /** An old master marked `state: failed` whose etcd member still answers: it is not dead, and a failed master is never touched. */
  FailedMasterAnswers: 'FailedMasterAnswers',
  /** The host's SSH key is not the pinned one: cpmigrate never connects. */
  SshHostKeyMismatch: 'SshHostKeyMismatch',
  /** The host refused our SSH key, or the key file is unreadable. */
  SshAuthFailed: 'SshAuthFailed',

  /** A kubelet's kubeconfig does not point at the LB address (runbook: fix with sed, then restart kubelet). */
  KubeletNotUsingLB: 'KubeletNotUsingLB',
  /** No kubelet kubeconfig at plan.paths.kubeletKubeconfig on that host (warning: no kubelet there?). */
  KubeletConfigMissing: 'KubeletConfigMissing',
  /** The kubelet kubeconfig could not be read or parsed. */
  KubeletConfigUnknown: 'KubeletConfigUnknown',

  /** A Node's kubelet kubeconfig could not be read (SSH to its InternalIP failed, unknown host key, no file): listed, never skipped. */
  KubeletUnverified: 'KubeletUnverified',
  /** The cluster's Nodes could not be listed: only the plan's hosts were checked. */
  NodeListUnknown: 'NodeListUnknown',

  /** The kube-proxy ConfigMap's kubeconfig does not point at the LB address. */
  KubeProxyNotUsingLB: 'KubeProxyNotUsingLB',
  /** The kube-proxy ConfigMap could not be read (missing, no server, API error). */
  KubeProxyConfigUnknown: 'KubeProxyConfigUnknown',

  /** controller-manager or scheduler on an old master talks to a remote apiserver, not the local one. */
  ControlPlaneKubeconfigNotLocal: 'ControlPlaneKubeconfigNotLocal',
  /** controller-manager or scheduler kubeconfig missing or unreadable on an old master. */
  ControlPlaneKubeconfigUnknown: 'ControlPlaneKubeconfigUnknown',

  /** The plan's kubeconfig (used by the worker) points at an old master directly: it breaks at decommission. */
  AdminKubeconfigNotUsingLB: 'AdminKubeconfigNotUsingLB',

  /** `findmnt --verify` reports errors in a new master's fstab: a reboot could fail. */
  FstabInvalid: 'FstabInvalid',
  /** The fstab check could not run. */
  FstabUnknown: 'FstabUnknown',

  /** etcd is not healthy: a member down or unreachable, no leader, an alarm. */
  EtcdUnhealthy: 'EtcdUnhealthy',
  /** A learner exists before the migration starts (a leftover of an earlier attempt?). */
  EtcdLearnerPresent: 'EtcdLearnerPresent',
  /** The live member list is not the plan's old masters. */
  EtcdMembersMismatch: 'EtcdMembersMismatch',
  /** etcd health could not be determined. */
  EtcdHealthUnknown: 'EtcdHealthUnknown',

  /**
   * With https etcd URLs, a new master lacks its own etcd server/peer certificate (or key, or the etcd CA)
   * under pkiDir/etcd/: its member could not start (etcd-join runs before the PKI is copied, and the
   * per-host pairs are never copied from an old master).
   */
  EtcdPerHostCertsMissing: 'EtcdPerHostCertsMissing',
  /** A new master's etcd server/peer certificate does not list the address its etcd URL uses. */
  EtcdPerHostCertSANMismatch: 'EtcdPerHostCertSANMismatch',
  /** Whether a new master's per-host etcd certificates exist (or fit) could not be determined. */
  EtcdPerHostCertsUnknown: 'EtcdPerHostCertsUnknown',
  /** etcd is https but no old master has the etcd CA (pkiDir/etcd/ca.crt + ca.key) to issue member certificates. */
  EtcdCaMissing: 'EtcdCaMissing',

  /** The old masters' live keepalived config does not match the plan (virtual_router_id, interface, authentication). */
  KeepalivedConfigMismatch: 'KeepalivedConfigMismatch',
  /** An old master's keepalived config could not be read, or has no VRRP instance carrying the VIP. */
  KeepalivedConfigUnknown: 'KeepalivedConfigUnknown',
  /** With the old masters' VRRP transport (unicast peer lists, or unicast and multicast mixed) old and new would not hear each other: split brain. */
  KeepalivedPeersSplit: 'KeepalivedPeersSplit',
  /** No new master's priority is above the old masters': the VIP would not move while the old keepalived runs, yet the new side is verified before the old one stops. */
  KeepalivedPriorityCannotMove: 'KeepalivedPriorityCannotMove',
  /** A keepalived block (vrrp_script, notify, track_*) names another old master's address: it cannot be remapped to a new master. */
  KeepalivedBlockNotRemappable: 'KeepalivedBlockNotRemappable',
  /** An old master's nginx config has no `upstream NAME {` block of the plan's loadBalancer.upstreamName. */
  NginxUpstreamMissing: 'NginxUpstreamMissing',
  /** An old master's kube-apiserver config uses a flag form the rewriter cannot handle (e.g. `--etcd-servers VALUE`), or has no --etcd-servers. */
  ApiserverConfigUnsupported: 'ApiserverConfigUnsupported',
  /** strategy rolling would remove, before the VIP switch, every etcd member a still-serving old kube-apiserver reaches (e.g. kubeadm's stacked 127.0.0.1:2379). */
  RollingStrandsApiserver: 'RollingStrandsApiserver',
  /** The plan's isolation taint has the master taint's key: removing it at cleanup would remove the master taint. */
  PlanTaintKeyConflict: 'PlanTaintKeyConflict',
  /** A host's apiserverURL is not on the host's own address. */
  PlanApiserverURLNotOwnAddress: 'PlanApiserverURLNotOwnAddress',
  /** A path on the hosts starts with ~ (quoted in remote commands, it would not expand). */
  PlanHostPathNotAbsolute: 'PlanHostPathNotAbsolute',

  /** A new master is not registered as a Node. */
  NodeNotFound: 'NodeNotFound',
  /** Whether a Node exists could not be determined. */
  NodeLookupUnknown: 'NodeLookupUnknown',
} as const;

export type Reason = (typeof Reasons)[keyof typeof Reasons];

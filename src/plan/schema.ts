/**
 * The migration plan: what an SRE writes to describe the cluster and the move.
 *
 * The plan carries *references* to secrets (file paths), never their contents,
 * because it is the workflow's input and therefore lives in workflow history.
 * Every object is strict: an unknown key is an error that names the field.
 */
import { z } from 'zod';
import { STRATEGIES } from './shape';

const nonEmpty = z.string().trim().min(1, 'must not be empty');
const absPath = z
  .string()
  .min(1, 'must not be empty')
  .refine((p) => p.startsWith('/') || p.startsWith('~/'), 'must be an absolute path (or start with ~/)');
const hostName = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a DNS-1123 name, e.g. master-1');
const ipv4 = z.ipv4({ message: 'must be an IPv4 address, e.g. 10.0.0.11' });
const url = z.url({ message: 'must be a URL such as http://10.0.0.11:2380' });
const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 30s, 15m, 2h or 1d');

/** How the tool reaches one host over SSH. Fields override `defaults.ssh`. */
export const sshAccessSchema = z
  .object({
    user: nonEmpty.optional().describe('login user (root or a sudoer with NOPASSWD)'),
    port: z.number().int().min(1).max(65535).optional(),
    privateKeyPath: absPath.optional().describe('path of the private key on the worker machine'),
    hostKeyFingerprint: z
      .string()
      .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'must be an OpenSSH SHA256 fingerprint such as SHA256:abc...')
      .optional()
      .describe('pinned host key (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)'),
    knownHostsPath: absPath.optional().describe('known_hosts file used when no fingerprint is pinned'),
    connectTimeout: duration.optional(),
  })
  .strict();

export const etcdMemberSchema = z
  .object({
    name: hostName.describe('etcd member name (--name)'),
    clientURL: url,
    peerURL: url,
  })
  .strict();

export const hostSchema = z
  .object({
    name: hostName.describe('Kubernetes Node name and host name'),
    address: ipv4,
    ssh: sshAccessSchema.optional(),
    etcd: etcdMemberSchema,
    apiserverURL: url.optional().describe('defaults to https://ADDRESS:<apiserver.securePort>'),
    keepalivedPriority: z.number().int().min(1).max(254).optional(),
    state: z
      .enum(['active', 'failed'], { message: 'must be active or failed' })
      .optional()
      .describe(
        'old masters only: failed = dead (powered off); its etcd member is removed first, behind its own checkpoint, and none of its services are touched',
      ),
  })
  .strict();

/** How a component is started, stopped and checked on a host. */
export const serviceSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('systemd'), unit: nonEmpty }).strict(),
  z
    .object({
      type: z.literal('staticPod'),
      manifest: absPath.describe('manifest path under the kubelet staticPodPath'),
      disabledDir: absPath.optional().describe('where a stopped manifest is parked (default /etc/kubernetes/manifests-disabled)'),
    })
    .strict(),
  z
    .object({
      type: z.literal('commands'),
      start: nonEmpty,
      stop: nonEmpty,
      status: nonEmpty.describe('exits 0 when the component runs'),
      enable: nonEmpty.optional().describe('makes the component start at boot (run after a start by cpmigrate)'),
      disable: nonEmpty.optional().describe('keeps it from starting at boot (decommission fences the old masters with it)'),
    })
    .strict(),
]);

const componentBase = {
  service: serviceSchema,
};

export const pathsSchema = z
  .object({
    pkiDir: absPath.default('/etc/kubernetes/pki'),
    etcdConfig: absPath.default('/etc/etcd/etcd.conf.yml'),
    etcdDataDir: absPath.default('/var/lib/etcd'),
    apiserverConfig: absPath.default('/etc/kubernetes/manifests/kube-apiserver.yaml'),
    controllerManagerConfig: absPath.default('/etc/kubernetes/manifests/kube-controller-manager.yaml'),
    controllerManagerKubeconfig: absPath.default('/etc/kubernetes/controller-manager.conf'),
    schedulerConfig: absPath.default('/etc/kubernetes/manifests/kube-scheduler.yaml'),
    schedulerKubeconfig: absPath.default('/etc/kubernetes/scheduler.conf'),
    kubeletKubeconfig: absPath.default('/etc/kubernetes/kubelet.conf'),
    nginxConfig: absPath.default('/etc/nginx/nginx.conf'),
    keepalivedConfig: absPath.default('/etc/keepalived/keepalived.conf'),
    fstab: absPath.default('/etc/fstab'),
  })
  .strict();

/** Clients of the apiserver that preflight checks (and the client-fixes step can fix). */
export const clientsSchema = z
  .object({
    kubelet: z
      .object({
        service: serviceSchema.default({ type: 'systemd', unit: 'kubelet' }).describe('how the client-fixes step restarts a kubelet'),
        readyTimeout: duration.default('5m').describe('how long a restarted kubelet may take until its Node is Ready again'),
      })
      .strict()
      .default({ service: { type: 'systemd', unit: 'kubelet' }, readyTimeout: '5m' }),
    kubeProxy: z
      .object({
        namespace: nonEmpty.default('kube-system'),
        configMap: nonEmpty.default('kube-proxy'),
        daemonSet: nonEmpty.default('kube-proxy'),
      })
      .strict()
      .default({ namespace: 'kube-system', configMap: 'kube-proxy', daemonSet: 'kube-proxy' }),
    nodes: z
      .enum(['all', 'plan'])
      .default('all')
      .describe("all: every Node the API lists (SSH with defaults.ssh at its InternalIP unless the plan lists it); plan: only the plan's hosts"),
    unverified: z
      .enum(['warn', 'block'])
      .default('warn')
      .describe('a Node whose kubelet kubeconfig cannot be read: a warning (listed at preflight-ack) or a blocker'),
    userKubeconfigs: z
      .array(nonEmpty)
      .default([])
      .describe('kubeconfigs of users and tools the migration cannot reach (paths or descriptions): listed at the preflight-ack checkpoint'),
  })
  .strict();

export const checkpointSchema = z
  .object({
    enabled: z.boolean().default(true),
    remindAfter: duration.default('30m').describe('status says the checkpoint is overdue after this long'),
    expiresAfter: duration
      .optional()
      .describe('an approval older than this when the workflow gets to act lapses: the checkpoint waits for a fresh approval (default: never lapses)'),
  })
  .strict();

/** A gate that is off unless the plan turns it on (`enabled: true`). */
const optInCheckpointSchema = checkpointSchema.extend({ enabled: z.boolean().default(false) });

export const GATES = ['preflight-ack', 'switch-traffic', 'decommission', 'client-fixes', 'remove-failed'] as const;
export type GateId = (typeof GATES)[number];

export const planSchema = z
  .object({
    apiVersion: z.literal('cpmigrate/v1', { message: 'must be cpmigrate/v1' }),
    kind: z.literal('MigrationPlan', { message: 'must be MigrationPlan' }),
    cluster: hostName.describe('cluster name; the workflow id is derived from it'),
    kubeconfig: absPath.describe('admin kubeconfig on the worker machine'),
    defaults: z
      .object({ ssh: sshAccessSchema.default({}) })
      .strict()
      .default({ ssh: {} }),
    oldMasters: z.array(hostSchema).describe('the masters being replaced (1 to 7; a host also in newMasters stays)'),
    newMasters: z.array(hostSchema).describe('the masters taking over (1 to 7; a host also in oldMasters stays: nothing is removed or re-joined there)'),
    strategy: z
      .enum(STRATEGIES, { message: `must be one of ${STRATEGIES.join(', ')}` })
      .optional()
      .describe(
        "grow-then-shrink (the runbook: add every new member, switch, remove every old one) or rolling (one in, one out); default: the runbook's for 3 → 3, else the one whose worst step tolerates more failures",
      ),
    allowEvenMembers: z.boolean().optional().describe('accept an even final etcd member count (it tolerates no more failures than one member less)'),
    acceptToleranceDrop: z.boolean().optional().describe('accept a plan with a step that tolerates fewer etcd failures than the starting cluster (e.g. 5 → 3)'),
    parallelism: z
      .number({ message: 'must be a whole number from 1 to 7' })
      .int('must be a whole number from 1 to 7')
      .min(1, 'must be at least 1 (1 = one step at a time)')
      .max(7, 'must be at most 7 (the most new masters a plan has)')
      .optional()
      .describe(
        'how many new masters run a step that takes no traffic and changes no etcd membership (certificates, apiserver, apiserver-lb, controller-manager/scheduler) at the same time; default 1 (one at a time); etcd joins, the VIP switch and decommission are always one at a time',
      ),
    workerNodes: z
      .array(hostSchema.partial({ etcd: true }))
      .default([])
      .describe('nodes whose kubelet.conf preflight checks'),
    etcd: z
      .object({
        tls: z
          .object({ caFile: absPath, certFile: absPath, keyFile: absPath })
          .strict()
          .optional()
          .describe('client TLS material, paths on the worker machine'),
        snapshotPath: absPath.describe('where the pre-change snapshot is written, on the worker machine'),
        prepareDataDir: z.array(nonEmpty).default([]).describe('commands run on a new master before its member starts'),
        maxRaftIndexLag: z.number().int().min(0).default(1000),
        service: serviceSchema,
      })
      .strict(),
    apiserver: z
      .object({
        securePort: z.number().int().min(1).max(65535).default(6443),
        apiserverCount: z.number().int().min(1).optional().describe('--apiserver-count written on new masters'),
        extraSANs: z.array(z.string()).default([]),
        ...componentBase,
      })
      .strict(),
    controllerManager: z.object(componentBase).strict(),
    scheduler: z.object(componentBase).strict(),
    loadBalancer: z
      .object({
        vip: ipv4.describe('the apiserver address every client uses'),
        port: z.number().int().min(1).max(65535).default(443),
        upstreamName: nonEmpty.default('kube_apiserver'),
        service: serviceSchema.describe('apiserver-nginx-lb on each master'),
      })
      .strict(),
    keepalived: z
      .object({
        interface: nonEmpty,
        virtualRouterId: z.number().int().min(1).max(255),
        authPassFile: absPath.optional().describe('file on the worker holding the VRRP password'),
        advertIntervalSeconds: z.number().int().min(1).default(1),
        onOldMasters: z
          .boolean()
          .optional()
          .describe(
            'false: the old masters run no keepalived (e.g. one old master behind a separate LB/VIP address); the VIP step only configures the new side',
          ),
        service: serviceSchema,
      })
      .strict(),
    calico: z
      .object({
        namespace: nonEmpty.default('kube-system'),
        configMap: nonEmpty.default('calico-config'),
        restart: z.array(z.object({ kind: z.enum(['DaemonSet', 'Deployment']), name: nonEmpty }).strict()).default([
          { kind: 'DaemonSet', name: 'calico-node' },
          { kind: 'Deployment', name: 'calico-policy-controller' },
        ]),
      })
      .strict()
      .default({
        namespace: 'kube-system',
        configMap: 'calico-config',
        restart: [
          { kind: 'DaemonSet', name: 'calico-node' },
          { kind: 'Deployment', name: 'calico-policy-controller' },
        ],
      }),
    monitoring: z
      .object({
        namespace: nonEmpty.default('kube-system'),
        endpoints: nonEmpty.default('kube-apiserver-exporter'),
      })
      .strict()
      .default({ namespace: 'kube-system', endpoints: 'kube-apiserver-exporter' }),
    nodes: z
      .object({
        masterLabel: nonEmpty.default('node-role.kubernetes.io/master=true'),
        masterTaint: nonEmpty.default('node-role.kubernetes.io/master=true:NoSchedule'),
        isolationTaint: nonEmpty.default('test-only=true:NoSchedule'),
        drainTimeout: duration.default('15m'),
      })
      .strict()
      .default({
        masterLabel: 'node-role.kubernetes.io/master=true',
        masterTaint: 'node-role.kubernetes.io/master=true:NoSchedule',
        isolationTaint: 'test-only=true:NoSchedule',
        drainTimeout: '15m',
      }),
    paths: pathsSchema.default(pathsSchema.parse({})),
    timeouts: z
      .object({
        quick: duration.default('3m').describe('start-to-close of probes and config pushes'),
        long: duration.default('60m').describe('start-to-close of waits (drain, etcd join, rollouts)'),
        heartbeat: duration.default('60s').describe('a waiting activity that is silent this long is retried on another worker'),
        maxAttempts: z.number().int().min(1).max(20).default(5),
      })
      .strict()
      .default({ quick: '3m', long: '60m', heartbeat: '60s', maxAttempts: 5 }),
    checkpoints: z
      .object({
        'preflight-ack': checkpointSchema.default({ enabled: true, remindAfter: '30m' }),
        'switch-traffic': checkpointSchema.default({ enabled: true, remindAfter: '30m' }),
        decommission: checkpointSchema.default({ enabled: true, remindAfter: '30m' }),
        'remove-failed': checkpointSchema.optional().describe("before a failed old master's etcd member is removed (only when one is marked state: failed)"),
        'client-fixes': optInCheckpointSchema
          .default({ enabled: false, remindAfter: '30m' })
          .describe(
            "off by default: when on, preflight's client fixes (kubelet, kube-proxy, controller-manager/scheduler kubeconfigs) are applied after this approval",
          ),
      })
      .strict()
      .default({
        'preflight-ack': { enabled: true, remindAfter: '30m' },
        'switch-traffic': { enabled: true, remindAfter: '30m' },
        decommission: { enabled: true, remindAfter: '30m' },
        'client-fixes': { enabled: false, remindAfter: '30m' },
      }),
    clients: clientsSchema.default(clientsSchema.parse({})),
  })
  .strict();

/** A plan as written (before defaults). */
export type PlanInput = z.input<typeof planSchema>;
/** A validated plan, defaults filled in. This is the workflow's input. */
export type Plan = z.output<typeof planSchema>;
export type Host = z.output<typeof hostSchema>;
export type Service = z.output<typeof serviceSchema>;
export type SshAccess = z.output<typeof sshAccessSchema>;

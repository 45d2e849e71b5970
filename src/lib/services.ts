/**
 * Shell commands that start, stop and check a component on a host, from the
 * plan's service description (systemd unit, static-pod manifest, or explicit
 * commands). Pure: returns strings, runs nothing.
 */
import type { Service } from '../plan/schema';

export type ServiceAction = 'start' | 'stop' | 'status' | 'restart';

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function serviceCommand(service: Service, action: ServiceAction): string {
  switch (service.type) {
    case 'systemd':
      if (action === 'status') return `systemctl is-active --quiet ${q(service.unit)}`;
      return `systemctl ${action} ${q(service.unit)}`;
    case 'staticPod': {
      const parked = `${service.disabledDir ?? '/etc/kubernetes/manifests-disabled'}/${service.manifest.split('/').pop() ?? 'manifest.yaml'}`;
      // The kubelet starts what is in its manifest dir and stops what leaves it.
      if (action === 'start') return `test -f ${q(service.manifest)} || mv ${q(parked)} ${q(service.manifest)}`;
      if (action === 'stop') return `if test -f ${q(service.manifest)}; then mkdir -p ${q(parked.replace(/\/[^/]+$/, ''))} && mv ${q(service.manifest)} ${q(parked)}; fi`;
      if (action === 'restart') return `touch ${q(service.manifest)}`;
      return `test -f ${q(service.manifest)}`;
    }
    case 'commands':
      if (action === 'restart') return `(${service.stop}) && (${service.start})`;
      return service[action];
  }
}

/**
 * Shell commands that start, stop and check a component on a host, from the
 * plan's service description (systemd unit, static-pod manifest, or explicit
 * commands). Pure: returns strings, runs nothing.
 */
import type { Service } from '../plan/schema';
import { shq } from './shell';

export type ServiceAction = 'start' | 'stop' | 'status' | 'restart';
export type BootAction = 'enable' | 'disable';

export function serviceCommand(service: Service, action: ServiceAction): string {
  switch (service.type) {
    case 'systemd':
      if (action === 'status') return `systemctl is-active --quiet ${shq(service.unit)}`;
      return `systemctl ${action} ${shq(service.unit)}`;
    case 'staticPod': {
      const parked = `${service.disabledDir ?? '/etc/kubernetes/manifests-disabled'}/${service.manifest.split('/').pop() ?? 'manifest.yaml'}`;
      // The kubelet starts what is in its manifest dir and stops what leaves it.
      if (action === 'start') return `test -f ${shq(service.manifest)} || mv ${shq(parked)} ${shq(service.manifest)}`;
      if (action === 'stop')
        return `if test -f ${shq(service.manifest)}; then mkdir -p ${shq(parked.replace(/\/[^/]+$/, ''))} && mv ${shq(service.manifest)} ${shq(parked)}; fi`;
      if (action === 'restart') return `touch ${shq(service.manifest)}`;
      return `test -f ${shq(service.manifest)}`;
    }
    case 'commands':
      if (action === 'restart') return `(${service.stop}) && (${service.start})`;
      return service[action];
  }
}

/**
 * Whether the component starts at boot. undefined: the plan gives no way
 * (a `commands` service without enable/disable) — the caller says so.
 * A static pod is enabled by its manifest being in place: disable parks it.
 */
export function bootCommand(service: Service, action: BootAction): string | undefined {
  switch (service.type) {
    case 'systemd':
      return `systemctl ${action} ${shq(service.unit)}`;
    case 'staticPod':
      return action === 'disable' ? serviceCommand(service, 'stop') : 'true';
    case 'commands':
      return service[action];
  }
}

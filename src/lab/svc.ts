/**
 * `cpm-svc start|stop|restart|status|enable|disable COMPONENT` and `cpm-svc boot`:
 * the lab's stand-in for systemctl (there is no systemd here). enable/disable
 * mark what starts at boot ($STATE/enabled/COMPONENT); `boot` starts what is
 * enabled, in dependency order — what a host's init does after a reboot. Installed once in /usr/local/sbin;
 * every host runs it in its own namespaces (over SSH or nsenter), and it reads
 * that host's identity and config from the host's /etc. Daemons run under
 * setsid with a pid file in the host's state dir and are stopped by that pid.
 * The plan's services are `{type: commands, start: "cpm-svc start etcd", ...}`.
 */
import { writeFile, rm } from 'node:fs/promises';
import { KUBELET_SCRIPT } from './kubelet';
import { paths, type LabHost } from './layout';
import { inHost, mustInHost } from './sshd';
import type { ExecResult } from './exec';

export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'apiserver-nginx-lb', 'keepalived', 'kubelet'] as const;
export type LabComponent = (typeof COMPONENTS)[number];

export const SVC_SCRIPT = String.raw`#!/bin/bash
# cpm-svc: start|stop|restart|status a control-plane daemon on a cpmigrate lab host.
# Installed by \`npm run lab -- up\`; removed by \`lab down\`. Exit codes: 0 ok / running,
# 1 failed, 2 usage, 3 not running.
set -u
ALL="etcd kube-apiserver kube-controller-manager kube-scheduler apiserver-nginx-lb keepalived kubelet"
usage() { echo "usage: cpm-svc start|stop|restart|status|enable|disable COMPONENT  |  cpm-svc boot   (COMPONENT: $ALL)" >&2; exit 2; }
. /etc/cpm-lab/host.env 2>/dev/null || { echo "cpm-svc: /etc/cpm-lab/host.env missing: not a cpmigrate lab host" >&2; exit 2; }
export HOST ADDRESS STATE KUBE_BIN
if [ $# -eq 1 ] && [ "$1" = boot ]; then
  rc=0
  for c in $ALL; do
    if [ -e "$STATE/enabled/$c" ]; then "$0" start "$c" || rc=1; fi
  done
  exit $rc
fi
[ $# -eq 2 ] || usage
action=$1 comp=$2
run=$STATE/run log=$STATE/log
pidf=$run/$comp.pid logf=$log/$comp.log

case $comp in
  etcd) bin=/usr/bin/etcd
    cmd='if [ -f /etc/etcd/etcd.conf.yml ]; then exec /usr/bin/etcd --config-file /etc/etcd/etcd.conf.yml; else set -a; . /etc/etcd/etcd.conf; set +a; exec /usr/bin/etcd; fi' ;;
  kube-apiserver) bin=$KUBE_BIN/kube-apiserver
    cmd='. /etc/kubernetes/apiserver.env && exec "$KUBE_BIN/kube-apiserver" $KUBE_APISERVER_ARGS' ;;
  kube-controller-manager) bin=$KUBE_BIN/kube-controller-manager
    cmd='. /etc/kubernetes/controller-manager.env && exec "$KUBE_BIN/kube-controller-manager" $KUBE_CONTROLLER_MANAGER_ARGS' ;;
  kube-scheduler) bin=$KUBE_BIN/kube-scheduler
    cmd='. /etc/kubernetes/scheduler.env && exec "$KUBE_BIN/kube-scheduler" $KUBE_SCHEDULER_ARGS' ;;
  apiserver-nginx-lb) bin=/usr/sbin/nginx
    cmd='mkdir -p "$STATE/nginx" && exec /usr/sbin/nginx -p "$STATE/nginx/" -c /etc/nginx/nginx.conf -e "$STATE/log/nginx-error.log" -g "daemon off; pid $STATE/run/nginx.master.pid;"' ;;
  keepalived) bin=/usr/sbin/keepalived
    cmd='exec /usr/sbin/keepalived -n -l -D -G -P -f /etc/keepalived/keepalived.conf -p "$STATE/run/keepalived.main.pid" -r "$STATE/run/keepalived.vrrp.pid"' ;;
  kubelet) bin=/usr/local/sbin/cpm-kubelet
    cmd='exec /usr/local/sbin/cpm-kubelet' ;;
  *) usage ;;
esac

running() {
  local pid
  pid=$(cat "$pidf" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  grep -q "$(basename "$bin")" "/proc/$pid/cmdline" 2>/dev/null || return 1
  ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

start() {
  if running; then echo "$comp on $HOST: already running (pid $(cat "$pidf"))"; return 0; fi
  [ -x "$bin" ] || { echo "cpm-svc: $bin not found (kube binaries: scripts/build-kube.sh)" >&2; return 1; }
  mkdir -p "$run" "$log"
  echo "=== $(date -Is) cpm-svc start $comp" >>"$logf"
  setsid sh -c "$cmd" </dev/null >>"$logf" 2>&1 &
  echo $! >"$pidf"
  sleep 0.3
  if ! running; then
    echo "cpm-svc: $comp on $HOST exited right after start; last log lines ($logf):" >&2
    tail -n 15 "$logf" >&2
    rm -f "$pidf"; return 1
  fi
  echo "$comp on $HOST: started (pid $(cat "$pidf"))"
}

stop() {
  if ! running; then rm -f "$pidf"; echo "$comp on $HOST: not running"; return 0; fi
  local pid i
  pid=$(cat "$pidf")
  kill -TERM "$pid"
  for i in $(seq 1 150); do running || break; sleep 0.1; done
  if running; then kill -KILL "$pid"; sleep 0.2; fi
  rm -f "$pidf"
  echo "$comp on $HOST: stopped (pid $pid)"
}

case $action in
  enable) mkdir -p "$STATE/enabled" && touch "$STATE/enabled/$comp" && echo "$comp on $HOST: enabled at boot" ;;
  disable) rm -f "$STATE/enabled/$comp" && echo "$comp on $HOST: disabled at boot" ;;
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status) if running; then echo "$comp on $HOST: running (pid $(cat "$pidf"))"; else echo "$comp on $HOST: not running"; exit 3; fi ;;
  *) usage ;;
esac
`;

export async function installSvc(): Promise<void> {
  await writeFile(paths.svcScript, SVC_SCRIPT, { mode: 0o755 });
  await writeFile(paths.kubeletScript, KUBELET_SCRIPT, { mode: 0o755 });
}

export async function uninstallSvc(): Promise<void> {
  await rm(paths.svcScript, { force: true });
  await rm(paths.kubeletScript, { force: true });
}

export function svc(h: LabHost, action: 'start' | 'stop' | 'status' | 'restart' | 'enable' | 'disable', comp: LabComponent): Promise<ExecResult> {
  return inHost(h, `${paths.svcScript} ${action} ${comp}`, 60_000);
}

/** What the host's init does after a reboot: start every enabled component. */
export function bootHost(h: LabHost): Promise<ExecResult> {
  return inHost(h, `${paths.svcScript} boot`, 120_000);
}

export function mustSvc(h: LabHost, action: 'start' | 'stop' | 'restart' | 'enable', comp: LabComponent): Promise<string> {
  return mustInHost(h, `${paths.svcScript} ${action} ${comp}`, 60_000);
}

/** Component → plan service, exactly as a user writes it. */
export function planService(comp: LabComponent): { type: 'commands'; start: string; stop: string; status: string; enable: string; disable: string } {
  return {
    type: 'commands',
    start: `cpm-svc start ${comp}`,
    stop: `cpm-svc stop ${comp}`,
    status: `cpm-svc status ${comp}`,
    enable: `cpm-svc enable ${comp}`,
    disable: `cpm-svc disable ${comp}`,
  };
}

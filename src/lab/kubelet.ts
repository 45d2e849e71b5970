/**
 * The lab's STAND-IN for a kubelet: there is no real kubelet in the lab (the
 * node agent plays Node and pod status). It is what the client-fixes step
 * restarts through the plan's kubelet service (`cpm-svc restart kubelet`), and
 * it behaves like a kubelet where that matters here: it reads its API server
 * from /etc/kubernetes/kubelet.conf once, at start, and keeps talking to it
 * (GET <server>/healthz every second). It reports "ready" while that answers
 * and "notready" after 5 failures in a row, in $STATE/run/kubelet.status
 * ("STATE SERVER PID"); the node agent turns that into the Node's Ready
 * condition (src/lab/node-agent-main.ts). So a restart is observable (a new
 * pid, the server it read), and a kubelet left pointing at an old master goes
 * NotReady once that master's apiserver is decommissioned.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { livePid } from './exec';
import { paths } from './layout';

export const KUBELET_SCRIPT = String.raw`#!/bin/bash
# cpm-kubelet: the cpmigrate lab's stand-in for a kubelet (see src/lab/kubelet.ts).
set -u
. /etc/cpm-lab/host.env
conf=/etc/kubernetes/kubelet.conf
server=$(awk '$1=="server:"{gsub(/["\047]/,"",$2); print $2; exit}' "$conf" 2>/dev/null)
[ -n "$server" ] || server=none
status=$STATE/run/kubelet.status
echo "$(date -Is) kubelet stand-in on $HOST (pid $$): server $server (from $conf)"
state=starting fails=0 child=
write() { printf '%s %s %s\n' "$1" "$server" "$$" >"$status.tmp" && mv -f "$status.tmp" "$status"; }
trap '[ -n "$child" ] && kill "$child" 2>/dev/null; rm -f "$status"; exit 0' TERM INT
write "$state"
while :; do
  code=$(curl -sk --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}' "$server/healthz" 2>/dev/null)
  if [ "$code" = 200 ]; then fails=0; new=ready; else fails=$((fails + 1)); new=$state; [ "$fails" -ge 5 ] && new=notready; fi
  if [ "$new" != "$state" ]; then state=$new; write "$state"; echo "$(date -Is) $state (server $server, last answer $code)"; fi
  sleep 1 & child=$!; wait "$child"; child=
done
`;

export interface StandInKubelet {
  ready: boolean;
  server: string;
  pid: number;
}

/** What the host's stand-in kubelet reports; undefined when it does not run. */
export async function standInKubelet(host: string): Promise<StandInKubelet | undefined> {
  const run = join(paths.hostDir(host), 'run');
  const pid = livePid(join(run, 'kubelet.pid'));
  if (!pid) return undefined;
  const text = await readFile(join(run, 'kubelet.status'), 'utf8').catch(() => '');
  const [state = '', server = '', reported = ''] = text.trim().split(' ');
  // a status written by an earlier process is stale (cpm-svc's pid is the script's own: `sh -c exec`)
  return { ready: state === 'ready' && Number(reported) === pid, server, pid };
}

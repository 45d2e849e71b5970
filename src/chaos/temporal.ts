/** A free loopback port for a scenario's own Temporal dev server, and stopping it by its pid file. */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function stopTemporal(port: number, stateDir: string): Promise<void> {
  spawnSync('bash', [path.join(__dirname, '..', '..', 'scripts', 'dev-server.sh'), 'stop'], { env: { ...process.env, TEMPORAL_PORT: String(port), CPM_STATE_DIR: stateDir } });
}

/** A snapshot streamed from one member, its trailing sha256 verified. */
import { createHash } from 'node:crypto';
import { withEtcdClient, type EtcdAccess } from './client';

/**
 * Stream a snapshot from one member. `onChunk` gets every piece in order.
 * The last 32 bytes etcd sends are the sha256 of everything before them
 * (what `etcdctl snapshot restore` checks): verified here.
 */
export async function streamSnapshot(access: EtcdAccess, endpoint: string, timeoutMs: number, onChunk: (b: Buffer) => void): Promise<{ bytes: number }> {
  return withEtcdClient(access, [endpoint], async (c) => {
    const stream = await c.maintenance.snapshot({ deadline: Date.now() + timeoutMs });
    const hash = createHash('sha256');
    let held = Buffer.alloc(0); // the last 32 bytes seen so far are not yet hashed
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (d) => {
        const blob = Buffer.from(d.blob);
        bytes += blob.length;
        onChunk(blob);
        const all = Buffer.concat([held, blob]);
        const cut = Math.max(0, all.length - 32);
        hash.update(all.subarray(0, cut));
        held = Buffer.from(all.subarray(cut));
      });
      stream.on('end', () => resolve());
      stream.on('error', (err) => reject(err));
    });
    if (bytes < 32 || !hash.digest().equals(held)) throw new Error(`snapshot from ${endpoint} is corrupt: its trailing sha256 does not match (${bytes} bytes)`);
    return { bytes };
  });
}

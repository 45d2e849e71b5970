/** Content digests: the one sha256 helper. */
import { createHash } from 'node:crypto';

/** Lower-case hex sha256 of a buffer or UTF-8 string. */
export function sha256hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

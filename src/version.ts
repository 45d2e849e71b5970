/** cpmigrate's version: package.json's, read at run time (src/ and dist/ sit at the same depth below it). */
import { readFileSync } from 'node:fs';
import path from 'node:path';

let cached: string | undefined;

export function cpmigrateVersion(): string {
  cached ??= (JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
  return cached;
}

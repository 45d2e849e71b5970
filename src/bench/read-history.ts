/** Read an event history in proto JSON (`temporal workflow show --output json`, test/histories/*.json[.gz]). */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { JsonHistory } from './history';

export function readHistoryFile(file: string): JsonHistory {
  const raw = readFileSync(file);
  const doc = JSON.parse((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')) as Partial<JsonHistory>;
  if (!Array.isArray(doc.events)) throw new Error(`${file}: not an event history (no "events" array)`);
  return doc as JsonHistory;
}

/** A Temporal client for the CLI: --address/--namespace/--profile over the environment and temporal.toml. */
import { Client, Connection } from '@temporalio/client';
import { cliTemporalSettings, TemporalConfigError, type TemporalSettings } from '../temporal-config';
import { CliExit, EXIT } from './exit-codes';
import { SEARCH_ATTRIBUTES } from '../search-attributes';
import { workflowIdFor } from '../shared';

export async function connectClient(): Promise<{ client: Client; close: () => Promise<void> }> {
  let s: TemporalSettings;
  try {
    s = cliTemporalSettings();
  } catch (err) {
    if (err instanceof TemporalConfigError) throw new CliExit(EXIT.temporalUnavailable, err.message);
    throw err;
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: s.address, tls: s.tls, apiKey: s.apiKey, connectTimeout: '5s' });
  } catch (err) {
    throw new CliExit(
      EXIT.temporalUnavailable,
      `cannot reach Temporal at ${s.address} (namespace ${s.namespace}): ${(err as Error).message}\n  hint: start it with \`npm run dev\`, or pass --address / set TEMPORAL_ADDRESS`,
    );
  }
  return { client: new Client({ connection, namespace: s.namespace }), close: () => connection.close() };
}

/** True when every cpmigrate search attribute is registered in the namespace. */
export async function searchAttributesRegistered(client: Client): Promise<boolean> {
  try {
    const res = await client.connection.operatorService.listSearchAttributes({ namespace: client.options.namespace });
    const custom = res.customAttributes ?? {};
    return Object.keys(SEARCH_ATTRIBUTES).every((k) => k in custom);
  } catch {
    return false;
  }
}

/** Accept a workflow id or a cluster name. */
export function resolveId(idOrCluster: string): string {
  return idOrCluster.startsWith('cpmigrate-') ? idOrCluster : workflowIdFor(idOrCluster);
}

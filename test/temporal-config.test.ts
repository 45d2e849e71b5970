/** Connection settings from the environment: cpmigrate's TLS variable names and the `temporal` CLI's. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TLSConfig } from '@temporalio/client';
import { TemporalConfigError, temporalSettings } from '../src/temporal-config';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cpm-tcfg-'));
const f = (n: string) => {
  const p = path.join(dir, n);
  writeFileSync(p, `${n} contents`);
  return p;
};
const cert = f('client.pem');
const key = f('client-key.pem');
const ca = f('ca.pem');

describe('temporalSettings', () => {
  it('defaults to localhost:7233, namespace default, no TLS', () => {
    expect(temporalSettings({})).toEqual({ address: 'localhost:7233', namespace: 'default', tls: undefined, apiKey: undefined });
  });

  it("reads mTLS from cpmigrate's names and from the temporal CLI's names alike", () => {
    const ours = temporalSettings({
      TEMPORAL_ADDRESS: '127.0.0.1:7300',
      TEMPORAL_NAMESPACE: 'prod',
      TEMPORAL_TLS_CERT: cert,
      TEMPORAL_TLS_KEY: key,
      TEMPORAL_TLS_CA: ca,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.example',
    });
    const cli = temporalSettings({
      TEMPORAL_ADDRESS: '127.0.0.1:7300',
      TEMPORAL_NAMESPACE: 'prod',
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.example',
    });
    expect(cli).toEqual(ours);
    const tls = ours.tls as TLSConfig;
    expect(tls.clientCertPair?.crt.toString()).toBe('client.pem contents');
    expect(tls.serverRootCACertificate?.toString()).toBe('ca.pem contents');
    expect(tls.serverNameOverride).toBe('temporal.example');
  });

  it('refuses half a client pair, two different paths for one setting, and unreadable files', () => {
    expect(() => temporalSettings({ TEMPORAL_TLS_CLIENT_CERT_PATH: cert })).toThrow(/TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_KEY/);
    expect(() => temporalSettings({ TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_CLIENT_CERT_PATH: ca, TEMPORAL_TLS_KEY: key })).toThrow(TemporalConfigError);
    expect(() => temporalSettings({ TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_CLIENT_CERT_PATH: cert, TEMPORAL_TLS_KEY: key })).not.toThrow();
    expect(() => temporalSettings({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'missing.pem') })).toThrow(
      /TEMPORAL_TLS_SERVER_CA_CERT_PATH=.*cannot read/,
    );
    expect(() => temporalSettings({ TEMPORAL_ADDRESS: 'no-port' })).toThrow(/host:port/);
  });
});

describe('temporalSettings: envconfig profiles and command-line overrides', () => {
  const toml = path.join(dir, 'temporal.toml');
  writeFileSync(
    toml,
    [
      '[profile.default]',
      'address = "10.0.0.1:7233"',
      'namespace = "from-default"',
      '',
      '[profile.prod]',
      'address = "prod.example:7233"',
      'namespace = "prod"',
      '[profile.prod.tls]',
      `server_ca_cert_path = "${ca}"`,
      '',
    ].join('\n'),
  );

  it('reads the temporal CLI profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), variables over it, flags over both', () => {
    expect(temporalSettings({ TEMPORAL_CONFIG_FILE: toml })).toMatchObject({ address: '10.0.0.1:7233', namespace: 'from-default' });
    const prod = temporalSettings({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod' });
    expect(prod).toMatchObject({ address: 'prod.example:7233', namespace: 'prod' });
    expect((prod.tls as TLSConfig).serverRootCACertificate?.toString()).toBe('ca.pem contents');
    expect(temporalSettings({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_ADDRESS: '127.0.0.1:7400' }).address).toBe('127.0.0.1:7400');
    const flags = temporalSettings(
      { TEMPORAL_CONFIG_FILE: toml, TEMPORAL_ADDRESS: '127.0.0.1:7400' },
      { address: '127.0.0.1:7500', namespace: 'ns2', profile: 'prod' },
    );
    expect(flags).toMatchObject({ address: '127.0.0.1:7500', namespace: 'ns2' });
    expect(() => temporalSettings({ TEMPORAL_CONFIG_FILE: toml }, { profile: 'nope' })).toThrow(/Profile 'nope' not found/);
  });

  it('a blank variable counts as unset', () => {
    expect(temporalSettings({ TEMPORAL_ADDRESS: ' ', TEMPORAL_NAMESPACE: '' })).toMatchObject({ address: 'localhost:7233', namespace: 'default' });
  });
});

/**
 * Broker credentials as the config names them (issue 16 item 8): the password from an environment
 * variable or a file, and the TLS files. The agent and `doctor` both read them here, so doctor
 * connects exactly as the daemon does. Relative paths are relative to the config file; a file
 * that cannot be read is a ConfigError naming its key.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { ResolvedConfig } from './load.js';

/** TLS material for the connection (mqtt/publisher.ts `TlsFiles`). */
export interface BrokerTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** The broker's certificate must chain to `ca` (or the system store). */
  rejectUnauthorized: boolean;
}

export interface BrokerSecrets {
  /** Absent when neither passwordEnv nor passwordFile is set, or the variable is unset. */
  password?: string;
  tls: BrokerTls;
}

/** Password (env or file, its first line) and TLS files from the config. */
export function brokerSecrets(
  config: Pick<ResolvedConfig, 'mqtt' | 'source'>,
  env: NodeJS.ProcessEnv = process.env,
): BrokerSecrets {
  const m = config.mqtt;
  const base = dirname(config.source);
  const read = (key: string, file: string) => {
    const path = isAbsolute(file) ? file : resolve(base, file);
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError('CONFIG_INVALID', `${config.source}: mqtt.${key}: cannot read ${path}`, {
        file: config.source,
        problems: [{ path: `mqtt.${key}`, message: `cannot read ${path}: ${(err as Error).message}` }],
        cause: err,
      });
    }
  };
  if (m.passwordEnv !== undefined && m.passwordFile !== undefined) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `${config.source}: mqtt: give passwordEnv or passwordFile, not both`,
      {
        file: config.source,
        problems: [{ path: 'mqtt.passwordFile', message: 'not together with passwordEnv' }],
      },
    );
  }
  let password: string | undefined;
  if (m.passwordEnv !== undefined) password = env[m.passwordEnv];
  if (m.passwordFile !== undefined)
    password = read('passwordFile', m.passwordFile).toString('utf8').split(/\r?\n/)[0];
  const tls: BrokerTls = { rejectUnauthorized: m.rejectUnauthorized };
  if (m.caFile !== undefined) tls.ca = read('caFile', m.caFile);
  if (m.certFile !== undefined) tls.cert = read('certFile', m.certFile);
  if (m.keyFile !== undefined) tls.key = read('keyFile', m.keyFile);
  return { ...(password !== undefined ? { password } : {}), tls };
}

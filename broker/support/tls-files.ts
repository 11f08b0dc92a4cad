/**
 * TLS material from files, read once at start: a bad path fails with an OptionError that names
 * the option, not later on the first connection.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions, SecureContextOptions } from 'node:tls';
import { OptionError } from './option-error.js';

/** The contents of a PEM file; throws an OptionError naming `option` when it cannot be read. */
export function readPem(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new OptionError(option, `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Certificate and key for the broker's listeners, or undefined when TLS is off. */
export function listenerTls(options: { tlsCert: string | undefined; tlsKey: string | undefined }): SecureContextOptions | undefined {
  if (options.tlsCert === undefined || options.tlsKey === undefined) return undefined;
  return { cert: readPem('tlsCert', options.tlsCert), key: readPem('tlsKey', options.tlsKey) };
}

/**
 * Checks now that --backend-ca can be read (a usage error at start, naming the option), where the
 * HTTP front end, made later (by listen(), or in each --workers worker), reads it again.
 */
export function checkBackendCa(options: { backendCa: string | undefined }): void {
  if (options.backendCa !== undefined) readPem('backendCa', options.backendCa);
}

/** How the broker dials servers that registered with `tls: true`: their certificate is verified. */
export function serverTls(options: { serverCa: string | undefined }): ConnectionOptions {
  return options.serverCa === undefined ? {} : { ca: readPem('serverCa', options.serverCa) };
}

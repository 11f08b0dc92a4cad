/**
 * HTTPS to HTTP backends: a servers.conf entry with `"tls": true`, or a registered server
 * that announced `httptls`. The certificate is verified, always: against --backend-ca when
 * given, else Node's CAs; against the entry's `servername` when given (also sent as SNI),
 * else the backend's address (an IP address must be in the certificate's IP SANs).
 *
 * undici takes a request's SNI from its Host header, which is the client's here: a backend
 * would be checked against whatever name a client sent. So the connector (undici's own,
 * buildConnector) is given the backend's name on every connection instead.
 */
import { buildConnector, type Pool } from 'undici';
import type { Endpoint } from '../routing/member.js';
import { readPem } from '../support/tls-files.js';

export class BackendTls {
  private readonly ca: Buffer | undefined;

  /** `caFile`: --backend-ca, read now (a bad path fails at start, naming the option). */
  constructor(caFile: string | undefined) {
    this.ca = caFile === undefined ? undefined : readPem('backendCa', caFile);
  }

  /** The origin of an HTTP endpoint: https:// for a TLS backend. */
  origin(endpoint: Endpoint): string {
    return `${endpoint.member.info.httpTls === true ? 'https' : 'http'}://${endpoint.address}`;
  }

  /** undici's connect option for the endpoint's connections. */
  connect(endpoint: Endpoint, timeoutMs: number): Pool.Options['connect'] {
    if (endpoint.member.info.httpTls !== true) return { timeout: timeoutMs };
    const servername = endpoint.member.info.httpServername;
    const connector = buildConnector({
      timeout: timeoutMs,
      rejectUnauthorized: true,
      ...(this.ca !== undefined && { ca: this.ca }),
      ...(servername !== undefined && { servername }),
    });
    // Without a servername the connector falls back to the address (no SNI for an IP address).
    return (options, callback) => {
      const { servername: _fromHostHeader, ...rest } = options;
      connector(servername === undefined ? rest : { ...rest, servername }, callback);
    };
  }
}

/** Certificate checks that failed: the backend is not who it should be, or not trusted. */
const VERIFY = /CERT|SELF_SIGNED|UNABLE_TO_|HOSTNAME_MISMATCH/;

/**
 * What a TLS failure says, when `err` is one: the certificate was not accepted (`verify`), or
 * the handshake failed (`handshake`: e.g. the backend speaks plain HTTP).
 */
export function tlsFailure(err: Error): { kind: 'verify' | 'handshake'; text: string } | undefined {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  if (VERIFY.test(code)) return { kind: 'verify', text: `its certificate was not accepted: ${err.message} (${code})` };
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return { kind: 'handshake', text: `the TLS handshake failed: ${err.message} (${code})` };
  return undefined;
}

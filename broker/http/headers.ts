/**
 * Header rewriting, as a proxy must do it, with no I/O: hop-by-hop headers dropped in both
 * directions (with those the Connection header names), X-Forwarded-For/Proto/Host added,
 * X-Request-ID kept or generated, Authorization replaced when the broker has its own token, a
 * W3C traceparent kept when valid, else (with `traceparent: 'generate'`) made.
 * Headers stay flat arrays ([name, value, name, value, …]) from Node's parser to undici and
 * back, in their order and spelling.
 */
import { randomUUID } from 'node:crypto';
import { isTraceparent, newTraceparent } from '../trace/traceparent.js';

/** What the rewriting needs to know beyond the request itself. */
export interface ForwardSettings {
  /** `Bearer <token>` for backends, or undefined to leave the client's Authorization alone… */
  upstreamAuthorization: string | undefined;
  /** …unless this is true: the client's Authorization was for the broker and stays with it. */
  dropClientAuthorization: boolean;
  /** X-Forwarded-Proto: what the client spoke to the broker's listener. */
  forwardedProto: 'http' | 'https';
  /** The broker's Via entry (loop-marker.ts), appended to the client's Via. */
  via: string;
  /** --trust-forwarded: the client's Forwarded and X-Real-IP go on; else they are removed (a client could forge them). */
  trustForwarded: boolean;
  /**
   * --traceparent. generate: a request without a valid traceparent gets a new one (and its
   * tracestate is dropped, as the W3C says of a restarted trace). pass (or unset): the
   * client's headers go on as they came.
   */
  traceparent?: 'generate' | 'pass';
}

/** The head of a request as it goes to a backend. */
export interface ForwardedHead {
  headers: string[];
  requestId: string;
  /** The request carries a body (Content-Length or Transfer-Encoding). */
  hasBody: boolean;
  /** The X-Privacy-Policy header as sent (several are joined with ", ", which no policy parses). */
  policy: string | undefined;
  /** The client's Authorization header, for the broker's token check. */
  authorization: string | undefined;
  /** The valid traceparent sent to the backend (the client's or a new one), for the trace. */
  traceparent: string | undefined;
}

/** Why a request cannot be forwarded; it is answered 400 and its connection closed. */
export interface BadHead {
  bad: string;
}

const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,200}$/;
/**
 * End-to-end headers a client's Connection header cannot remove: the policy header routes the
 * request and the backend reads it to know the policy it serves; Host names the site.
 */
const NEVER_LISTED: ReadonlySet<string> = new Set(['x-privacy-policy', 'host']);
/** The longest header name the switches below look for (proxy-authorization): longer ones are kept unread. */
const LONGEST_NAME = 19;
/**
 * Hop-by-hop headers (RFC 9110 §7.6.1), dropped in both directions. Connection and
 * Transfer-Encoding are hop-by-hop too, but each direction reads them first, in its switch.
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
]);

/** 1 at the lengths of the names forwardResponseHeaders drops: hop-by-hop, transfer-encoding, x-request-id. */
const RESPONSE_FILTERED_LENGTHS = lengthTable([...HOP_BY_HOP, 'connection', 'transfer-encoding', 'x-request-id']);

function lengthTable(names: readonly string[]): Uint8Array {
  const table = new Uint8Array(LONGEST_NAME + 1);
  for (const name of names) table[name.length] = 1;
  return table;
}

/**
 * The headers to send upstream, from the client's raw headers (req.rawHeaders), or the reason
 * the request is refused: several Host headers, none on HTTP/1.1, a Transfer-Encoding other
 * than chunked, or any Transfer-Encoding on HTTP/1.0 (RFC 9112 §6.1).
 */
export function forwardRequestHeaders(
  raw: readonly string[],
  clientAddress: string,
  http11: boolean,
  settings: ForwardSettings,
): ForwardedHead | BadHead {
  const out: string[] = [];
  let host: string | undefined;
  let hosts = 0;
  let connection: string | undefined;
  let forwardedFor: string | undefined;
  let requestId: string | undefined;
  let via: string | undefined;
  let policy: string | undefined;
  let authorization: string | undefined;
  let hasBody = false;
  let traceparent: string | undefined;
  /** traceparent and tracestate headers seen. */
  let traceHeaders = 0;
  let traceparents = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.length > LONGEST_NAME ? '' : name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    switch (lower) {
      case 'host':
        hosts++;
        host = value;
        out.push(name, value);
        break;
      case 'content-length':
        if (value !== '0') hasBody = true;
        out.push(name, value);
        break;
      case 'transfer-encoding':
        if (!http11) return { bad: 'Transfer-Encoding in an HTTP/1.0 request' };
        if (value.trim().toLowerCase() !== 'chunked') return { bad: `unsupported Transfer-Encoding: ${value}` };
        hasBody = true;
        break;
      case 'connection':
        connection = connection === undefined ? value : `${connection},${value}`;
        break;
      case 'expect': // answered by Node (100 Continue); undici refuses to send it
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        break;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case 'x-request-id':
        if (requestId === undefined && REQUEST_ID_PATTERN.test(value)) requestId = value;
        break;
      case 'traceparent':
        traceparents++;
        traceparent = value;
        traceHeaders++;
        out.push(name, value);
        break;
      case 'tracestate':
        traceHeaders++;
        out.push(name, value);
        break;
      case 'via':
        via = via === undefined ? value : `${via}, ${value}`;
        break;
      case 'forwarded':
      case 'x-real-ip':
        if (settings.trustForwarded) out.push(name, value);
        break;
      case 'x-privacy-policy':
        policy = policy === undefined ? value : `${policy}, ${value}`;
        out.push(name, value);
        break;
      case 'authorization':
        authorization ??= value;
        if (settings.upstreamAuthorization === undefined && !settings.dropClientAuthorization) out.push(name, value);
        break;
      default:
        out.push(name, value);
    }
  }
  if (hosts > 1) return { bad: 'more than one Host header' };
  if (hosts === 0 && http11) return { bad: 'no Host header' };
  let headers = connection === undefined ? out : dropListed(out, connection);
  // Two traceparent headers are as invalid as a malformed one.
  if (traceparent !== undefined && (traceparents > 1 || !isTraceparent(traceparent))) traceparent = undefined;
  if (traceparent === undefined && settings.traceparent === 'generate') {
    if (traceHeaders > 0) headers = dropTraceContext(headers);
    traceparent = newTraceparent();
    headers.push('traceparent', traceparent);
  }
  requestId ??= randomUUID();
  headers.push(
    'x-forwarded-for',
    forwardedFor === undefined ? clientAddress : `${forwardedFor}, ${clientAddress}`,
    'x-forwarded-proto',
    settings.forwardedProto,
    'x-request-id',
    requestId,
    'via',
    via === undefined ? settings.via : `${via}, ${settings.via}`,
  );
  if (host !== undefined) headers.push('x-forwarded-host', host);
  if (settings.upstreamAuthorization !== undefined) headers.push('authorization', settings.upstreamAuthorization);
  return { headers, requestId, hasBody, policy, authorization, traceparent };
}

/**
 * The headers to send the client, from a backend response's raw headers (Buffers, as undici
 * gives them, or strings): hop-by-hop ones dropped, X-Request-ID set to the request's.
 */
export function forwardResponseHeaders(raw: readonly (Buffer | string)[], requestId: string): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = latin1(raw[i]!);
    const value = latin1(raw[i + 1]!);
    // Lower-casing every name is most of the cost here: only a name as long as one dropped can be one.
    if (RESPONSE_FILTERED_LENGTHS[name.length] === 1) {
      const lower = name.toLowerCase();
      if (lower === 'connection') {
        connection = connection === undefined ? value : `${connection},${value}`;
        continue;
      }
      if (HOP_BY_HOP.has(lower) || lower === 'transfer-encoding' || lower === 'x-request-id') continue;
    }
    out.push(name, value);
  }
  const headers = connection === undefined ? out : dropListed(out, connection);
  headers.push('x-request-id', requestId);
  return headers;
}

/** The header names a Connection header lists (beyond keep-alive and close), lower case. */
export function connectionTokens(value: string): string[] {
  const tokens: string[] = [];
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '' && token !== 'close' && token !== 'keep-alive') tokens.push(token);
  }
  return tokens;
}

/** The headers without traceparent and tracestate (a trace the broker starts again). */
function dropTraceContext(headers: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const lower = headers[i]!.toLowerCase();
    if (lower !== 'traceparent' && lower !== 'tracestate') kept.push(headers[i]!, headers[i + 1]!);
  }
  return kept;
}

/** Drops from a flat header list the headers that the Connection header names. */
function dropListed(headers: string[], connection: string): string[] {
  // The usual values name no header: skip the split.
  if (connection === 'keep-alive' || connection === 'close') return headers;
  const listed = connectionTokens(connection).filter((name) => !NEVER_LISTED.has(name));
  if (listed.length === 0) return headers;
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!listed.includes(headers[i]!.toLowerCase())) kept.push(headers[i]!, headers[i + 1]!);
  }
  return kept;
}

function latin1(value: Buffer | string): string {
  return typeof value === 'string' ? value : value.toString('latin1');
}

/**
 * The --registry URL, checked up front (before any connection, and without loading the Redis
 * client), and the error every registry failure is reported with.
 */

export type RegistryErrorCode = 'BAD_URL' | 'AUTH' | 'NOT_REDIS' | 'UNREACHABLE';

/** Why the registry cannot be used; `code` says whether retrying can help (only UNREACHABLE). */
export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export interface RegistryUrl {
  readonly url: string;
  /** The URL with any password replaced, for logs and the status page. */
  readonly display: string;
}

/** Checks a `redis://` or `rediss://` URL: `[user:password@]host[:port][/db]`. */
export function parseRegistryUrl(text: string): RegistryUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RegistryError('BAD_URL', `${JSON.stringify(redact(text))} is not a URL (expected redis://[user:password@]host:port[/db])`);
  }
  const bad = (why: string): RegistryError => new RegistryError('BAD_URL', `${redactUrl(url)}: ${why}`);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw bad('the scheme must be redis:// or rediss://');
  if (url.hostname === '') throw bad('no host');
  if (url.port !== '' && !(Number(url.port) > 0)) throw bad('bad port');
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d{1,5}$/.test(url.pathname)) throw bad('the path must be a database number (/0 ... /15)');
  if (url.search !== '' || url.hash !== '') throw bad('no query or fragment is understood');
  return { url: url.href, display: redactUrl(url) };
}

function redactUrl(url: URL): string {
  if (url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}

function redact(text: string): string {
  return text.replace(/:[^:@/]*@/, ':***@');
}


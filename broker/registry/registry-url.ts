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
  /** With `redis+sentinel://`: the Sentinels to ask for the primary of `name`. */
  readonly sentinel?: SentinelUrl;
}

export interface SentinelUrl {
  readonly nodes: ReadonlyArray<{ host: string; port: number }>;
  /** The name the Sentinels monitor the primary under. */
  readonly name: string;
  /** For the primary and replicas (the Sentinels are asked without them). */
  readonly username?: string;
  readonly password?: string;
  /** `rediss+sentinel://`: TLS to the Sentinels and to the primary. */
  readonly tls: boolean;
}

const SENTINEL = /^(rediss?)\+sentinel:\/\/(?:([^@/]*)@)?([^/?#@]+)\/([^/?#]+)$/;
const SENTINEL_NODE = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/;

/**
 * Checks a `redis+sentinel://[user:password@]host:port,host:port,.../MASTER_NAME` URL (or
 * `rediss+sentinel://`): the Sentinels' addresses (port 26379 when absent) and the primary's name.
 */
function parseSentinelUrl(text: string): RegistryUrl {
  const usage = 'expected redis+sentinel://[user:password@]host:port,host:port,.../MASTER_NAME';
  const match = SENTINEL.exec(text);
  const shown = redact(text);
  if (match === null) throw new RegistryError('BAD_URL', `${JSON.stringify(shown)} is not a Sentinel URL (${usage})`);
  const [, scheme, auth, hosts, name] = match as unknown as [string, string, string | undefined, string, string];
  const nodes = hosts.split(',').map((part) => {
    const node = SENTINEL_NODE.exec(part);
    const port = node?.[3] === undefined ? 26379 : Number(node[3]);
    if (node === null || port < 1 || port > 65535) throw new RegistryError('BAD_URL', `${shown}: ${JSON.stringify(part)} is not host:port (${usage})`);
    return { host: node[1] ?? node[2]!, port };
  });
  let username: string | undefined;
  let password: string | undefined;
  if (auth !== undefined) {
    const colon = auth.indexOf(':');
    username = decodeURIComponent(colon < 0 ? auth : auth.slice(0, colon)) || undefined;
    password = colon < 0 ? undefined : decodeURIComponent(auth.slice(colon + 1));
  }
  return { url: text, display: shown, sentinel: { nodes, name: decodeURIComponent(name), username, password, tls: scheme === 'rediss' } };
}

/** Checks a `redis://` or `rediss://` URL: `[user:password@]host[:port][/db]`, or a Sentinel one (parseSentinelUrl). */
export function parseRegistryUrl(text: string): RegistryUrl {
  if (/^rediss?\+sentinel:/i.test(text)) return parseSentinelUrl(text);
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


/**
 * What a changed body means for the headers around it, and the decoding of compressed
 * response bodies for hooks that read them. No I/O beyond node:zlib.
 */
import { brotliDecompress, gunzip, inflate, inflateRaw, type ZlibOptions } from 'node:zlib';
import type { HeaderList } from './header-list.js';

export function toBuffer(body: string | Uint8Array): Buffer {
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError('a body must be a string or a Uint8Array');
}

/** Responses that never carry a body (RFC 9110 §6.4.1): to HEAD, 1xx, 204, 304. */
export function responseHasNoBody(method: string, status: number): boolean {
  return method === 'HEAD' || status < 200 || status === 204 || status === 304;
}

/**
 * Headers for a body sent whole: Content-Length is its length, Transfer-Encoding goes. When the
 * bytes are not the ones the headers described (`changed`), validators computed on the old
 * bytes (ETag, Content-MD5) go too, and so does Content-Encoding (new bodies are sent as given).
 */
export function headersForBody(headers: HeaderList, length: number, changed: boolean): void {
  headers.delete('transfer-encoding');
  headers.set('content-length', length);
  if (changed) {
    headers.delete('etag');
    headers.delete('content-md5');
    headers.delete('content-encoding');
  }
}

export type Decoded = { readonly body: Buffer } | { readonly overflow: true } | { readonly unreadable: string };

/**
 * The body decoded from its Content-Encoding (gzip, deflate, br; one coding, case-insensitive),
 * at most maxBytes of it. A body without a coding comes back as it is; a coding not listed,
 * several codings, or corrupt data come back `unreadable`.
 */
export async function decodeBody(encoding: string | undefined, body: Buffer, maxBytes: number): Promise<Decoded> {
  const coding = encoding?.trim().toLowerCase() ?? '';
  if (coding === '' || coding === 'identity') return { body };
  const options: ZlibOptions = { maxOutputLength: Math.max(1, maxBytes) };
  try {
    let out: Buffer;
    if (coding === 'gzip' || coding === 'x-gzip') out = await run(gunzip, body, options);
    else if (coding === 'br') out = await run(brotliDecompress, body, options);
    else if (coding === 'deflate') {
      // "deflate" is meant to be zlib-wrapped; some servers send it raw.
      out = await run(inflate, body, options).catch(() => run(inflateRaw, body, options));
    } else return { unreadable: `content-encoding "${coding}" is not decoded` };
    return out.length > maxBytes ? { overflow: true } : { body: out };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) return { overflow: true };
    return { unreadable: `the ${coding} body cannot be decoded: ${(err as Error).message}` };
  }
}

type ZlibCall = (buf: Buffer, options: ZlibOptions, cb: (err: Error | null, out: Buffer) => void) => void;

function run(fn: ZlibCall, body: Buffer, options: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => fn(body, options, (err, out) => (err === null ? resolve(out) : reject(err))));
}

/**
 * The framing of a response after its hooks (RFC 9112 §6), derived by the broker, never taken
 * from a hook: a hook that could set the length could make the client read part of the body as
 * the next response on a kept-alive connection (response smuggling).
 * - `Transfer-Encoding` never goes out as a header: Node chunks a body of unknown length itself.
 * - At most one `Content-Length`, equal to the bytes sent: the new body's length, the whole
 *   body's when it was read, the backend's own while its body streams through (undici holds
 *   the backend to the length it announced); else none, and the body goes out chunked.
 * - A response without a body (RFC 9110 §6.4.1): HEAD and 304 keep the backend's length (the
 *   length of what a GET would get), 1xx and 204 have none.
 */
import type { HeaderList } from './header-list.js';

/** What the broker knows of the body it sends. */
export type BodyFraming =
  /** No body (HEAD, 1xx, 204, 304). */
  | { readonly kind: 'none'; readonly status: number }
  /** The whole body, `length` bytes; `changed` when a hook replaced it. */
  | { readonly kind: 'whole'; readonly length: number; readonly changed: boolean }
  /** The backend's body, streamed through as it comes. */
  | { readonly kind: 'stream' };

/** The one Content-Length of backend headers (already checked by undici), or undefined. */
export function singleLength(headers: HeaderList): number | undefined {
  const values = headers.getAll('content-length');
  if (values.length !== 1 || !/^\d{1,15}$/.test(values[0]!)) return undefined;
  return Number(values[0]);
}

/** Sets the framing headers of `headers` for `framing`; `backendLength` is singleLength() of the backend's head. */
export function frameResponse(headers: HeaderList, framing: BodyFraming, backendLength: number | undefined): void {
  headers.delete('transfer-encoding');
  headers.delete('content-length');
  switch (framing.kind) {
    case 'none':
      if (framing.status >= 200 && framing.status !== 204 && backendLength !== undefined) headers.set('content-length', backendLength);
      return;
    case 'whole':
      headers.set('content-length', framing.length);
      if (framing.changed) {
        // Computed on the old bytes; a new body is sent as given.
        headers.delete('etag');
        headers.delete('content-md5');
        headers.delete('content-encoding');
      }
      return;
    case 'stream':
      if (backendLength !== undefined) headers.set('content-length', backendLength);
  }
}

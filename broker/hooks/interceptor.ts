/**
 * The interceptor API (docs/hooks.md): what a hook author writes. An interceptor names what it
 * captures (`match`) and implements any of four hooks: onRequest/onResponse for HTTP,
 * onPacket/onReply for packets. Each hook gets a context of its own; what it changes there is
 * applied only when it returns in time (a hook that throws or times out changes nothing).
 */
import type { ClientPacket } from '../protocol/packet-types.js';
import type { HeaderList } from './header-list.js';

/** What an interceptor captures; an absent field matches everything. Decided once, on what the client sent. */
export interface InterceptorMatch {
  /** Tested against the request path, without the query. */
  path?: RegExp;
  /** Request methods, upper case. */
  methods?: readonly string[];
  /** Policies (X-Privacy-Policy or --http-policy for HTTP; the packet's policy for packets). */
  policies?: readonly number[];
  /** Packet types seen: 0 = client packets (onPacket), 2 = their replies (onReply). Default both. */
  packetTypes?: readonly number[];
  /**
   * Upgrade requests (WebSocket handshakes): false (default) leaves them alone; true captures
   * them too (when the other fields match). Only onRequest runs for them: the 101 and what
   * follows are never held or buffered.
   */
  upgrades?: boolean;
}

/** Buffering of a body for a hook that reads or replaces it. */
export interface BufferLimit {
  /** Largest body buffered, in bytes (after decompression, for responses). */
  maxBytes: number;
  /**
   * Responses only: what a larger one gets. 'passthrough': this interceptor's onResponse is
   * skipped and the response streams on unchanged; 'error': 502. Requests over maxBytes get 413.
   */
  onOverflow?: 'passthrough' | 'error';
}

/** The request as every HTTP hook may read it; onRequest may change it. */
export interface HttpRequestView {
  method: string;
  /** Path without the query, as sent (percent-encoded). */
  path: string;
  /** The query; changes are sent upstream. */
  query: URLSearchParams;
  /** The policy the request is routed to; onRequest may change it (logged). */
  policy: number;
}

export interface HttpRequestContext extends HttpRequestView {
  /** The interceptor's name. */
  readonly name: string;
  /** Request headers as they go upstream (hop-by-hop ones already removed). */
  readonly headers: HeaderList;
  /** The request body when the interceptor set `bufferRequest`, else undefined. */
  readonly body: Buffer | undefined;
  /** Replaces the body (needs `bufferRequest`); Content-Length follows. */
  setBody(body: string | Uint8Array): void;
  /** This interceptor's state for this request, handed to its onResponse. */
  readonly state: Record<string, unknown>;
  readonly requestId: string;
  readonly clientAddress: string;
  /** Answers the request now, without a backend; later hooks and the backend are skipped. */
  respond(status: number, headers?: Record<string, string | readonly string[]>, body?: string | Uint8Array): void;
}

export interface HttpResponseContext {
  readonly name: string;
  /** The request as it went upstream. */
  readonly request: Readonly<HttpRequestView>;
  status: number;
  readonly headers: HeaderList;
  /** The (decompressed) body when the interceptor set `bufferResponse` (such a hook is not called for responses without a body: HEAD, 1xx, 204, 304). */
  readonly body: Buffer | undefined;
  /** Replaces the body (needs `bufferResponse`); lengths and validators follow. */
  setBody(body: string | Uint8Array): void;
  readonly state: Record<string, unknown>;
  readonly requestId: string;
}

export interface PacketContext {
  readonly name: string;
  /** This interceptor's state for this packet, handed to its onReply. */
  readonly state: Record<string, unknown>;
  /** Answers the client with this reply payload now; no server sees the packet. */
  answer(payload: string): void;
  /** Answers the client with an error packet of this code (upper case, e.g. FORBIDDEN); default HOOK_REJECTED. */
  drop(code?: string, message?: string): void;
}

/** A server's reply on its way to the client. */
export interface ReplyView {
  /** The id of the server that answered. */
  readonly server: number;
  readonly policy: number;
  payload: string;
}

export interface ReplyContext {
  readonly name: string;
  readonly state: Record<string, unknown>;
  /** The client packet as it went to the server. */
  readonly packet: Readonly<ClientPacket>;
}

type Maybe<T> = T | Promise<T>;

export interface Interceptor {
  /** Unique among the broker's interceptors; names its counters and log lines. */
  name: string;
  match?: InterceptorMatch;
  /** Buffer request bodies for onRequest (ctx.body); absent: the body streams and is not seen. */
  bufferRequest?: BufferLimit;
  /** Buffer response bodies for onResponse (ctx.body); absent: the body streams and is not seen. */
  bufferResponse?: BufferLimit;
  /** Longest a hook call may take, in ms (default 1000). */
  timeoutMs?: number;
  /**
   * What a hook that throws or times out leads to. 'closed' (default): the client gets 502
   * HOOK_FAILED, or a HOOK_FAILED error packet. 'open': the hook's changes are dropped and the
   * message goes on as it was.
   */
  failMode?: 'closed' | 'open';
  onRequest?(ctx: HttpRequestContext): Maybe<void>;
  onResponse?(ctx: HttpResponseContext): Maybe<void>;
  /** May return a changed packet (payload, policy); returning nothing keeps it. */
  onPacket?(packet: ClientPacket, ctx: PacketContext): Maybe<ClientPacket | void>;
  /** May change reply.payload, or return a changed reply. */
  onReply?(reply: ReplyView, ctx: ReplyContext): Maybe<ReplyView | void>;
}

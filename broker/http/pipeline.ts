/**
 * One client connection's proxied requests, in arrival order. Only the first is sent to a
 * backend; each next one starts when the one before it is done (as nginx and HAProxy do): a
 * client pipelining N requests holds one backend connection, not N, and the answers, which
 * must go back in order anyway, are not held in memory while an earlier one is still coming.
 */
import type { ServerResponse } from 'node:http';
import type { Admission } from '../routing/admission.js';
import type { Exchange, ExchangeOwner } from './exchange.js';

export class Pipeline implements ExchangeOwner {
  private readonly exchanges: Exchange[] = [];
  /**
   * Its responses in request order, those done ('close' emitted) dropped from the front as
   * requests arrive: the first one not closed is the one Node is writing now.
   */
  private readonly responses: ServerResponse[] = [];

  constructor(
    /** True when the connection is past --http-max-connections: its requests are refused. */
    readonly overLimit: boolean,
    /** The front end's admission: each request added is accepted there, and settled when done. */
    private readonly admission: Admission,
  ) {}

  /** A request arrived with this response (proxied, refused or answered by the admin pages). */
  responded(res: ServerResponse): void {
    while (this.responses.length > 0 && this.responses[0]!.closed) this.responses.shift();
    this.responses.push(res);
  }

  /** True while the response Node is writing has its head out: a raw answer would corrupt it. */
  responding(): boolean {
    return this.responses.find((res) => !res.closed)?.headersSent === true;
  }

  /** True while a request of the connection is proxied or its response not all written. */
  get busy(): boolean {
    return this.exchanges.length > 0 || this.responses.some((res) => !res.writableFinished);
  }

  /** Queues a request; it starts at once when nothing is ahead of it. */
  add(exchange: Exchange): void {
    this.exchanges.push(exchange);
    this.admission.accept();
    if (this.exchanges.length === 1) exchange.start();
  }

  /** An exchange is over, however it ended: the next one starts. */
  done(exchange: Exchange): void {
    this.admission.settle();
    const index = this.exchanges.indexOf(exchange);
    if (index === -1) return;
    this.exchanges.splice(index, 1);
    if (index === 0 && this.exchanges.length > 0) this.exchanges[0]!.start();
  }

  /** The connection closed: requests in flight, answered or queued, have nobody to go to. */
  closed(): void {
    // The last first, so that ending one never starts the next.
    for (const exchange of this.exchanges.slice().reverse()) exchange.clientGone();
  }
}

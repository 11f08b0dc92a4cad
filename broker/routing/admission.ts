/**
 * One protocol's admission: the one owner of the broker-wide count of work taken and not yet
 * answered (client packets; HTTP requests and handshakes), and of the long-lived work held past
 * its answer (an upgraded connection's tunnel). The broker-wide limit reads `full`, the stop
 * sequence's drain waits for `idle()`, the pages read `count`: nobody else keeps this number.
 *
 * Per-connection limits (--max-client-inflight, the HTTP pipeline of one connection) keep their
 * own small counts: they bound one client, not the broker. Integer fields and no allocation:
 * every packet calls accept() and settle() once.
 */
export class Admission {
  private taken = 0;
  private heldOpen = 0;

  /** `limit`: work in flight past which `full` is true (--http-max-inflight); none by default. */
  constructor(readonly limit: number = Number.POSITIVE_INFINITY) {}

  /** Work taken and not yet answered: what the limit reads. */
  get count(): number {
    return this.taken;
  }

  /** Long-lived work held past its answer (open tunnels): not under the limit, but drained. */
  get held(): number {
    return this.heldOpen;
  }

  /** True when no more work may be taken (count at the limit). */
  get full(): boolean {
    return this.taken >= this.limit;
  }

  /** One unit of work is taken; each is settled exactly once. */
  accept(): void {
    this.taken++;
  }

  /** One unit of work taken is answered (or abandoned). */
  settle(): void {
    this.taken--;
  }

  /** A long-lived piece of work opens (an upgraded connection); released once, as it closes. */
  hold(): void {
    this.heldOpen++;
  }

  release(): void {
    this.heldOpen--;
  }

  /** True when nothing is taken nor held: the drain is over. */
  idle(): boolean {
    return this.taken === 0 && this.heldOpen === 0;
  }
}

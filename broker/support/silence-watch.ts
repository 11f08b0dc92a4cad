/**
 * Notices a peer that has gone silent while something waits for its answer. A cut link or a
 * frozen host raises no error on a TCP connection: writes are buffered and retransmitted for
 * many minutes, so only the absence of answers tells. The owner says when it sent something
 * that expects an answer (`sent`) and when anything came back (`heard`); when something has
 * been waiting and nothing was heard for `limitMs`, `onSilent` is called once, and the owner
 * treats the connection as dead.
 *
 * One coarse timer per watch (a quarter of the limit): silence is noticed between limitMs and
 * 1.25 × limitMs after it began, which is precise enough for a failover measured in seconds.
 */
import { performance } from 'node:perf_hooks';

export class SilenceWatch {
  /** Since when the peer has been quiet while something waited. */
  private quietSince = performance.now();
  /** True when the last check found nothing waiting: the next send starts the silence clock. */
  private idle = true;
  private fired = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly limitMs: number,
    /** True while something sent is still unanswered. */
    private readonly waiting: () => boolean,
    private readonly onSilent: (quietMs: number) => void,
  ) {
    this.timer = setInterval(() => this.check(), Math.max(10, Math.floor(limitMs / 4)));
    // A live socket keeps the process up; the watch must not.
    this.timer.unref();
  }

  /** Something that expects an answer was written. */
  sent(): void {
    if (!this.idle) return;
    this.idle = false;
    this.quietSince = performance.now();
  }

  /** Something arrived from the peer. */
  heard(): void {
    this.quietSince = performance.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    if (this.fired) return;
    if (!this.waiting()) {
      this.idle = true;
      return;
    }
    const quietMs = performance.now() - this.quietSince;
    if (quietMs < this.limitMs) return;
    this.fired = true;
    this.stop();
    this.onSilent(quietMs);
  }
}

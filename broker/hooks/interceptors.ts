/**
 * A broker's interceptors, checked once, with their counters: the one place that decides
 * which interceptors capture a request or a packet. With none matching, a message costs a
 * loop over the interceptors of its kind and nothing else.
 */
import type { Logger } from '../support/logger.js';
import { matchesPolicy, matchesRequest, resolveInterceptors, type Hook } from './check.js';
import { HookCounters } from './counters.js';
import { HttpHookRun } from './http-request.js';
import type { Interceptor } from './interceptor.js';

export class Interceptors {
  readonly counters: HookCounters;
  readonly hooks: readonly Hook[];
  private readonly httpHooks: readonly Hook[];
  private readonly packetHooks: readonly Hook[];

  constructor(
    list: readonly Interceptor[],
    readonly log: Logger,
  ) {
    this.hooks = resolveInterceptors(list);
    this.counters = new HookCounters(this.hooks.map((hook) => hook.name));
    this.httpHooks = this.hooks.filter((hook) => hook.http);
    this.packetHooks = this.hooks.filter((hook) => hook.onPacket || hook.onReply);
  }

  get hasHttp(): boolean {
    return this.httpHooks.length > 0;
  }

  get hasPackets(): boolean {
    return this.packetHooks.length > 0;
  }

  /** The run for a request some interceptor captures; undefined when none does. `upgrade`: a WebSocket handshake. */
  forRequest(method: string, target: string, policy: number, headers: readonly string[], requestId: string, clientAddress: string, upgrade = false): HttpHookRun | undefined {
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    let matched: Hook[] | undefined;
    for (const hook of this.httpHooks) if (matchesRequest(hook, method, path, policy, upgrade)) (matched ??= []).push(hook);
    if (matched === undefined) return undefined;
    return new HttpHookRun(matched, this.counters, this.log, method, path, q === -1 ? '' : target.slice(q + 1), policy, headers, requestId, clientAddress);
  }

  /** The interceptors that capture a client packet of this policy; undefined when none does. */
  forPacket(policy: number): Hook[] | undefined {
    let matched: Hook[] | undefined;
    for (const hook of this.packetHooks) if (matchesPolicy(hook, policy)) (matched ??= []).push(hook);
    return matched;
  }
}

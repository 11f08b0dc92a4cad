/**
 * The primary process of --workers N (node:cluster). It runs the packet broker exactly as one
 * process does (packet listener, registrations, registry, router: all here, once), forks N
 * workers that serve HTTP on the shared --http-port (each on SO_REUSEPORT sockets of its own, or
 * on the one socket cluster shares where the runtime has no reusePort), feeds every worker's
 * read-only registry (registry/relayed-store.ts) with its own store's events, and answers the
 * admin requests the workers relay: the pages from its packet figures and the workers' merged
 * HTTP figures, the runtime API over the whole broker (WorkersControl). Forking, re-forking and
 * stopping the worker processes is supervisor.ts's.
 */
import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { AdminPages } from '../admin/pages.js';
import { RuntimeApi, WorkersControl, type ServerChange } from '../admin/runtime-api.js';
import { createBroker, type Broker } from '../broker.js';
import { apiAccess } from '../http-composition.js';
import type { ReloadResult } from '../http/static-backends.js';
import { OptionError, resolveBrokerOptions, type BrokerOptions } from '../options.js';
import type { Logger } from '../support/logger.js';
import { loopMarkEnv, newLoopMark } from '../http/loop-marker.js';
import { MergedHttpView } from '../admin/merged-http.js';
import { isMessage, type Done, type FromWorker, type LinkState, type ToWorker } from './messages.js';
import { DecisionBatcher } from '../trace/decision-batcher.js';
import { claimPort } from '../support/listen-group.js';
import { loadServersFile, serversFileOf, ServersFileError } from '../support/servers-file.js';
import { listenPlan } from '../support/reuse-port.js';
import { checkBackendCa } from '../support/tls-files.js';
import { WorkerSupervisor } from './supervisor.js';

/** How long a runtime API call waits for the workers' answers (reload, change). */
const ASK_TIMEOUT_MS = 5000;
/** Operators' changes to static backends kept for re-forked workers, at most (the oldest go). */
const MAX_KEPT_CHANGES = 1024;

export class BrokerCluster {
  readonly options: BrokerOptions;
  /** HTTP worker processes (--workers). */
  readonly count: number;
  readonly broker: Broker;
  readonly http = new MergedHttpView();
  private readonly pages: AdminPages;
  private readonly log: Logger;
  private readonly supervisor: WorkerSupervisor;
  /** Workers that said hello: they get every registry event. */
  private readonly subscribed = new Set<Worker>();
  /** Workers being welcomed (the store's list() is on its way): what is broadcast meanwhile waits here. */
  private readonly joining = new Map<Worker, ToWorker[]>();
  /** Operators' changes to static backends, by key, for workers forked later (each holds its own). */
  private readonly staticChanges = new Map<string, ServerChange>();
  /** Runtime API calls waiting for the workers (ask()): their answers by worker. */
  private readonly asks = new Map<number, { answers: Map<Worker, Done>; check(): void }>();
  private askSeq = 0;
  /** Workers with a dashboard trace stream open: they get every decision (DecisionBatcher). */
  private readonly watching = new Set<Worker>();
  private readonly traceFeed: DecisionBatcher;
  /** The HTTP port every worker binds with SO_REUSEPORT; undefined where cluster shares one socket. */
  private sharedHttpPort: number | undefined;
  private closing: Promise<void> | undefined;
  /** Set as close() begins (`closing` is assigned only at its first await, and the packet drain, with nothing in flight, removes every server before then). */
  private stopping = false;

  /** Checks every option (the HTTP ones too, though the workers use them) before anything starts. */
  constructor(input: Partial<BrokerOptions>) {
    const options = resolveBrokerOptions(input);
    if (options.workers === 0) throw new OptionError('workers', 'a BrokerCluster runs at least one HTTP worker');
    this.count = options.workers;
    checkBackendCa(options);
    this.options = options;
    this.log = options.logger;
    const broker = createBroker({ ...options, httpPort: undefined, httpServers: [], workers: 0 });
    // Registrations may not name the workers' HTTP port either.
    broker.alsoListening(() => this.httpAddress());
    this.broker = broker;
    // The workers are one broker: they share its mark against proxy loops.
    this.supervisor = new WorkerSupervisor(loopMarkEnv(newLoopMark()), this.log, {
      forked: (worker) => this.http.started(worker.id, worker.process.pid ?? 0),
      exited: (worker) => this.onExit(worker),
    });
    const servers = new WorkersControl(broker.table, broker.membership, this.http, (key, change, isStatic) => this.changeEverywhere(key, change, isStatic));
    const api = new RuntimeApi({ servers, log: this.log, ...apiAccess(options), reload: () => this.reloadAll() });
    this.pages = new AdminPages({ ...broker.sources, http: this.http, stopping: () => this.stopping }, broker.trace, api);
    // Every worker's table follows this broker's store (whatever kinds of event it gives) and
    // takes this broker's view of each registered server's packet link.
    broker.store.watch((event) => this.broadcast({ t: 'store', event }));
    broker.table.observe({
      stateChanged: (endpoint) => {
        if (endpoint.protocol === 'packets') this.broadcast({ t: 'link', link: [endpoint.member.id!, endpoint.member.info.generation, endpoint.state] });
      },
    });
    this.traceFeed = new DecisionBatcher((decisions) => {
      for (const worker of this.watching) this.send(worker, { t: 'trace-feed', decisions });
    });
    broker.trace.listen({
      decision: (d) => {
        if (this.watching.size > 0) this.traceFeed.push(d);
      },
      state: (settings) => this.broadcast({ t: 'trace-state', settings }),
    });
  }

  /** Starts the packet broker, then the workers; resolves with the packet address once every worker listens. */
  async listen(): Promise<AddressInfo> {
    const address = await this.broker.listen();
    cluster.on('message', (worker, message) => this.onMessage(worker, message));
    // With SO_REUSEPORT every worker binds --listen-sockets sockets of its own on the port, so
    // that each accepts a burst at its own pace; the primary claims the port first (port 0
    // becomes a real one, and a port in use fails here, as it would without workers).
    const plan = await listenPlan(this.options, this.log);
    if (plan.reusePort && plan.sockets > 1) this.sharedHttpPort = await claimPort(this.options.httpPort!, this.options.httpHost ?? this.options.host);
    try {
      await this.supervisor.start(this.count);
    } catch (err) {
      await this.close();
      throw err;
    }
    this.pages.start();
    this.log.info('HTTP workers listening', { workers: this.count, address: `${this.httpAddress()?.address}:${this.httpAddress()?.port}` });
    return address;
  }

  address(): AddressInfo | undefined {
    return this.broker.address();
  }

  /** The shared HTTP address, once a worker listens. */
  httpAddress(): AddressInfo | undefined {
    return this.http.address();
  }

  /**
   * Re-reads servers.conf in every worker (each holds its own static backends), on SIGHUP. The
   * file is checked here first: a bad one changes nothing anywhere and throws (ServersFileError).
   */
  reload(): { backends: number; workers: number } {
    const backends = this.checkServersFile();
    this.broadcast({ t: 'reload' });
    this.log.info('servers.conf reloaded in every worker', { backends, workers: this.subscribed.size });
    // Each worker logs what its own reload added, removed and kept.
    return { backends, workers: this.subscribed.size };
  }

  /** The same, for POST api/reload: resolves with what the reload did (every worker holds the same backends). */
  async reloadAll(): Promise<ReloadResult & { workers: number }> {
    this.checkServersFile();
    const answers = await this.ask((seq) => ({ t: 'reload', seq }));
    const done = answers.find((a) => a.result !== undefined);
    if (done?.result === undefined) throw new Error(answers.find((a) => a.error !== undefined)?.error ?? `no HTTP worker answered the reload within ${ASK_TIMEOUT_MS} ms`);
    return { ...done.result, workers: answers.length };
  }

  /**
   * Sends an operator's change of `key` to every worker (and to those forked later, for a static
   * backend); resolves once every worker has applied it, so that no request routed after the
   * API's answer goes to a server it took out.
   */
  async changeEverywhere(key: string, change: ServerChange, isStatic: boolean): Promise<void> {
    if (isStatic) {
      this.staticChanges.set(key, { ...this.staticChanges.get(key), ...change });
      if (this.staticChanges.size > MAX_KEPT_CHANGES) this.staticChanges.delete(this.staticChanges.keys().next().value!);
    }
    const answers = await this.ask((seq) => ({ t: 'change', key, change, seq }));
    if (answers.length < this.subscribed.size) this.log.warn('an HTTP worker did not confirm an operator change in time', { server: key, confirmed: answers.length, workers: this.subscribed.size });
  }

  /**
   * Sends every worker (welcomed, and those being welcomed, after their welcome) a message that
   * it answers with 'done'; resolves with the answers of the welcomed ones, once all have
   * answered, exited, or ASK_TIMEOUT_MS has passed.
   */
  private ask(message: (seq: number) => ToWorker): Promise<Done[]> {
    // A stopping broker sends its workers nothing more (broadcast()): no answer would come.
    if (this.stopping) return Promise.resolve([]);
    const seq = ++this.askSeq;
    const workers = [...this.subscribed];
    return new Promise((resolve) => {
      const answers = new Map<Worker, Done>();
      const finish = (): void => {
        clearTimeout(timer);
        this.asks.delete(seq);
        resolve([...answers.values()]);
      };
      const timer = setTimeout(finish, ASK_TIMEOUT_MS);
      this.asks.set(seq, { answers, check: () => workers.every((w) => answers.has(w) || !this.subscribed.has(w)) && finish() });
      this.broadcast(message(seq));
      this.asks.get(seq)?.check();
    });
  }

  /** The backends in servers.conf; throws ServersFileError (logged) when it cannot be used. */
  private checkServersFile(): number {
    const file = serversFileOf(this.options.httpServers);
    if (file === undefined) throw new ServersFileError('this broker was started without --servers: there is no file to reload');
    try {
      return loadServersFile(file).length;
    } catch (err) {
      this.log.error('servers.conf not reloaded: the running backends stay', { error: (err as Error).message });
      throw err;
    }
  }

  /** Stops the workers (each drains, up to --drain-timeout) and the packet broker, together. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopping = true;
      this.pages.stop();
      // One that has not said hello may not hear a message yet; SIGTERM stops it the same way.
      const ask = (w: Worker): unknown => (this.subscribed.has(w) && w.isConnected() ? w.send({ t: 'stop' } satisfies ToWorker) : w.process.kill('SIGTERM'));
      // The workers keep their registry view while they drain: nothing is broadcast once stopping.
      await Promise.all([this.supervisor.stop(this.options.drainTimeoutMs, ask), this.broker.close()]);
    })();
    return this.closing;
  }

  private send(worker: Worker, message: ToWorker): void {
    if (worker.isConnected()) worker.send(message);
  }

  private broadcast(message: ToWorker): void {
    if (this.stopping) return;
    for (const worker of this.subscribed) this.send(worker, message);
    for (const queued of this.joining.values()) queued.push(message);
  }

  /**
   * Gives a worker that said hello the registry now, then what changed while list() was on its
   * way (replaying a change the list holds already is a no-op: events name generations), then
   * subscribes it.
   */
  private async welcome(worker: Worker): Promise<void> {
    const queued: ToWorker[] = [];
    this.joining.set(worker, queued);
    const entries = await this.broker.store.list();
    this.joining.delete(worker);
    if (this.stopping) return;
    const table = this.broker.table;
    const links = Array.from(table.endpoints('packets'), (e): LinkState => [e.member.id!, e.member.info.generation, e.state]);
    this.send(worker, { t: 'welcome', entries, links, ...(this.sharedHttpPort !== undefined && { httpPort: this.sharedHttpPort }) });
    for (const message of queued) this.send(worker, message);
    this.send(worker, { t: 'trace-state', settings: this.broker.trace.settings() });
    // Operators' changes: a registered server's as this table has it, a static backend's as asked.
    for (const m of table.members()) {
      if (m.id !== undefined && (m.admin !== 'enabled' || m.weight !== (m.info.weight ?? 1))) this.send(worker, { t: 'change', key: String(m.id), change: { admin: m.admin, weight: m.weight } });
    }
    for (const [key, change] of this.staticChanges) this.send(worker, { t: 'change', key, change });
    this.subscribed.add(worker);
  }

  private onMessage(worker: Worker, message: unknown): void {
    if (!isMessage<FromWorker>(message)) return;
    switch (message.t) {
      case 'hello':
        void this.welcome(worker);
        return;
      case 'trace-decisions':
        this.broker.trace.merge(message.decisions, message.dropped);
        return;
      case 'done': {
        const call = this.asks.get(message.seq);
        call?.answers.set(worker, message);
        call?.check();
        return;
      }
      case 'trace-watch':
        if (message.watching) this.watching.add(worker);
        else this.watching.delete(worker);
        return;
      case 'listening':
        this.http.listening(worker.id, message.address);
        this.log.debug('HTTP worker listening', { worker: worker.id, pid: worker.process.pid });
        this.supervisor.listened();
        return;
      case 'failed':
        this.log.error('HTTP worker cannot listen', { worker: worker.id, error: message.message });
        this.supervisor.failedToListen(new Error(message.message));
        return;
      case 'report':
        this.http.report(worker.id, message.report);
        return;
      case 'admin': {
        const { seq } = message;
        void Promise.resolve(this.pages.answer(message.request)).then((answer) =>
          this.send(worker, { t: 'admin-answer', seq, answer }),
        );
        return;
      }
    }
  }

  /** A worker exited: it gets nothing more; returns whether the supervisor forks another. */
  private onExit(worker: Worker): boolean {
    this.subscribed.delete(worker);
    this.joining.delete(worker);
    // A call waiting for this worker's answer waits no more.
    for (const call of this.asks.values()) call.check();
    this.watching.delete(worker);
    this.http.gone(worker.id);
    return !this.stopping;
  }
}

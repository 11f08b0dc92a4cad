/**
 * Grades one target of one kind: sets up the grader's own servers, starts the submission when
 * given a command, runs the chosen checks, and tears everything down. Throws TargetError when
 * the target cannot be graded at all (never reachable, never registered): exit code 2.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadServersFile } from '../../broker/support/servers-file.js';
import { BROKER_CHECKS, type BrokerContext } from './broker-checks.js';
import { gradeOf, selectChecks, type Check, type CheckResult, type Grade } from './check.js';
import { GraderBackend } from './grader-backend.js';
import { GraderBroker, type ReceivedRegistration } from './grader-broker.js';
import { GraderServer } from './grader-server.js';
import { HTTP_CHECKS, warmUp, type HttpContext } from './http-checks.js';
import { classicPacket } from './broker-checks.js';
import { probeFraming } from './framing-probe.js';
import { CONNECT_TIMEOUT_MS, POLICY_A, POLICY_B, randomServerIds, type GradeSettings, type Kind } from './options.js';
import { acceptsConnections, type Received } from './packet-connection.js';
import { runChecks } from './runner.js';
import { SERVER_CHECKS, type ServerContext } from './server-checks.js';
import { fillPlaceholders, pollFor, Submission } from './submission.js';

export interface Address {
  host: string;
  port: number;
}

export interface GradeRequest {
  kind: Kind;
  /** broker, http-proxy: the target's address. server: the server's listenport, dialed directly (no registration). */
  target?: Address;
  /** A shell command that starts the submission; placeholders: {host} {port} {servers} {broker} {broker_host} {broker_port}. */
  command?: string;
  cwd?: string;
  /** server: where the grader listens for the registration (default 127.0.0.1, any free port). */
  listen?: Address;
  /** http-proxy: the servers.conf the proxy uses; the grader listens on its addresses. */
  serversFile?: string;
  settings: GradeSettings;
  only?: string[];
  skip?: string[];
  onResult?: (result: CheckResult) => void;
  /** server: called once the grader listens, with its address (to tell a person where to register). */
  onListening?: (address: Address) => void;
}

/** The target cannot be graded at all. */
export class TargetError extends Error {
  constructor(
    message: string,
    /** What a submission the grader started printed last (bounded), if anything. */
    readonly output?: string,
  ) {
    super(message);
    this.name = 'TargetError';
  }
}

/**
 * The target port already accepted connections before the submission was started: another
 * program listens there, and grading it would fail the submission on every check.
 */
export class PortInUseError extends TargetError {
  constructor(address: Address) {
    super(`${label(address)} already accepts connections before the submission started: another program listens there`);
    this.name = 'PortInUseError';
  }
}

/**
 * grade() with the target on a port from `pick` (a free port): picked again, up to 3 times, when
 * another program took it between the pick and the start (a shared machine, parallel runs).
 */
export async function gradeOnFreePort(request: GradeRequest, pick: () => Promise<number>): Promise<Grade> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await grade({ ...request, target: { host: '127.0.0.1', port: await pick() } });
    } catch (err) {
      if (!(err instanceof PortInUseError) || attempt === 3) throw err;
    }
  }
}

/** What one grading run shares between its steps: what to undo, and the submission it started. */
interface Run {
  cleanup: Array<() => unknown>;
  submission?: Submission;
}

/** The checks of a kind, for --only/--skip and the docs. */
export function checksOf(kind: Kind): ReadonlyArray<Pick<Check<unknown>, 'id' | 'name' | 'points'>> {
  return kind === 'broker' ? BROKER_CHECKS : kind === 'server' ? SERVER_CHECKS : HTTP_CHECKS;
}

export async function grade(request: GradeRequest): Promise<Grade> {
  // A misspelt --only or --skip fails before anything is started.
  selectChecks(checksOf(request.kind), request.only, request.skip);
  const run: Run = { cleanup: [] };
  const started = Date.now();
  try {
    const result = request.kind === 'broker' ? await gradeBroker(request, run) : request.kind === 'server' ? await gradeServer(request, run) : await gradeHttpProxy(request, run);
    result.durationMs = Date.now() - started;
    const output = run.submission?.output.text();
    if (output !== undefined && output !== '') result.output = output;
    return result;
  } catch (err) {
    if (err instanceof TargetError && err.output === undefined && run.submission !== undefined) throw new TargetError(err.message, run.submission.output.text());
    throw err;
  } finally {
    for (const step of run.cleanup.reverse()) await step();
  }
}

/** Starts the command, if any, and waits until `ready` says it is up. */
async function startSubmission(request: GradeRequest, values: Record<string, string | number>, what: string, ready: (submission: Submission) => Promise<unknown>, run: Run): Promise<void> {
  if (request.command === undefined) return;
  // Whatever answers there now is not the submission: "ready" would be true at once, and the
  // submission would fail to bind while the checks graded the other program.
  if (request.target !== undefined && request.kind !== 'server' && (await acceptsConnections(request.target.host, request.target.port, CONNECT_TIMEOUT_MS))) {
    throw new PortInUseError(request.target);
  }
  const submission = Submission.start(fillPlaceholders(request.command, values), request.cwd);
  run.submission = submission;
  run.cleanup.push(() => submission.stop());
  try {
    await submission.waitFor(what, ready(submission), request.settings.startTimeoutMs);
  } catch (err) {
    throw new TargetError((err as Error).message);
  }
}

/** Waits until host:port accepts connections (bounded by the caller's start timeout). */
function listening(address: Address, timeoutMs: number) {
  return async (submission: Submission) => {
    if (!(await pollFor(() => acceptsConnections(address.host, address.port, CONNECT_TIMEOUT_MS), timeoutMs, () => submission.hasExited))) {
      throw new Error(`the submission does not accept connections on ${label(address)}${submission.hasExited ? ' (it exited)' : ''}`);
    }
  };
}

async function requireReachable(address: Address): Promise<void> {
  if (!(await acceptsConnections(address.host, address.port, CONNECT_TIMEOUT_MS))) throw new TargetError(`${label(address)} does not accept connections`);
}

function label(address: Address): string {
  return `${address.host}:${address.port}`;
}

async function gradeBroker(request: GradeRequest, run: Run): Promise<Grade> {
  const target = requireTarget(request);
  await startSubmission(request, { host: target.host, port: target.port }, `listen on ${label(target)}`, listening(target, request.settings.startTimeoutMs), run);
  await requireReachable(target);
  const ids = randomServerIds();
  const servers = {
    a1: await GraderServer.start(ids.a1, POLICY_A),
    a2: await GraderServer.start(ids.a2, POLICY_A),
    b1: await GraderServer.start(ids.b1, POLICY_B),
  };
  for (const server of Object.values(servers)) run.cleanup.push(() => server.close());
  const registrations = new Map<number, Received>();
  const answerMs = Math.min(1000, request.settings.answerTimeoutMs);
  // One after another, as the lab's servers start. Three at once, queued behind the grader's own
  // probe connections, can overflow the short listen queue of a broker that serves one connection
  // at a time; on a loaded machine a registration was then lost (its SYN dropped, its connect
  // given up) and the checks that need that server failed too, not only the concurrency one.
  for (const server of Object.values(servers)) {
    registrations.set(server.id, await server.register(target.host, target.port, answerMs).catch((): Received => ({ kind: 'closed' })));
  }
  let probeSrcid = 1;
  const framing = await probeFraming({
    ...target,
    answerTimeoutMs: request.settings.answerTimeoutMs,
    servers: Object.values(servers),
    packet: () => classicPacket(probeSrcid++, POLICY_A, 'framing-probe'),
  });
  const context: BrokerContext = { ...target, settings: request.settings, servers, registrations, framing };
  return finish(request, label(target), BROKER_CHECKS, context, target, run);
}

async function gradeHttpProxy(request: GradeRequest, run: Run): Promise<Grade> {
  const cleanup = run.cleanup;
  const target = requireTarget(request);
  let addresses: Address[];
  let serversFile = request.serversFile;
  if (serversFile !== undefined) {
    addresses = loadServersFile(serversFile).map(({ host, port }) => ({ host, port }));
    const outside = addresses.find((address) => !/^127\./.test(address.host) && address.host !== 'localhost');
    if (outside !== undefined) throw new TargetError(`${serversFile}: ${label(outside)} is not a loopback address; the grader only runs its backends on 127.0.0.0/8`);
    if (addresses.length < 2) throw new TargetError(`${serversFile}: at least 2 backends are needed to grade balancing`);
  } else {
    addresses = [0, 1, 2].map(() => ({ host: '127.0.0.1', port: 0 }));
  }
  const backends: GraderBackend[] = [];
  for (const [i, address] of addresses.entries()) {
    const backend = await GraderBackend.start(`b${i + 1}`, address.host, address.port).catch((err: Error) => {
      throw new TargetError(`cannot listen on ${label(address)} for backend ${i + 1}: ${err.message}`);
    });
    cleanup.push(() => backend.close());
    backends.push(backend);
  }
  if (serversFile === undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), 'policy-grade-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    serversFile = path.join(dir, 'servers.conf');
    writeFileSync(serversFile, JSON.stringify({ backend_servers: backends.map((backend) => ({ ip: backend.address.host, port: backend.address.port })) }) + '\n');
  }
  await startSubmission(request, { host: target.host, port: target.port, servers: serversFile }, `listen on ${label(target)}`, listening(target, request.settings.startTimeoutMs), run);
  await requireReachable(target);
  const context: HttpContext = { ...target, settings: request.settings, backends };
  // Not an error when it fails: the checks then say what is wrong.
  await warmUp(context, request.settings.startTimeoutMs);
  return finish(request, label(target), HTTP_CHECKS, context, target, run);
}

async function gradeServer(request: GradeRequest, run: Run): Promise<Grade> {
  const cleanup = run.cleanup;
  let registration: ReceivedRegistration | undefined;
  let address: Address;
  let checks: ReadonlyArray<Check<ServerContext>> = SERVER_CHECKS;
  if (request.target !== undefined && request.command === undefined) {
    // Dialed directly: there is no registration to grade.
    address = request.target;
    checks = SERVER_CHECKS.filter((check) => check.id !== 'registration');
    await requireReachable(address);
  } else {
    const listen = request.listen ?? { host: '127.0.0.1', port: 0 };
    const broker = await GraderBroker.start(listen.host, listen.port).catch((err: Error) => {
      throw new TargetError(`cannot listen on ${label(listen)}: ${err.message}`);
    });
    cleanup.push(() => broker.close());
    const at = broker.address;
    request.onListening?.(at);
    const values = { broker: label(at), broker_host: at.host, broker_port: at.port };
    if (request.command === undefined) {
      registration = await waitRegistration(broker, request.settings.startTimeoutMs);
    } else {
      await startSubmission(request, values, `register with ${label(at)}`, () => broker.registered.then((r) => (registration = r)), run);
    }
    const result = registration!.result;
    address = { host: registration!.host, port: result.ok ? result.packet.listenport : 0 };
    if (!result.ok) {
      // An unusable registration still earns a grade: the first check fails, the rest cannot run.
      const results: CheckResult[] = selectChecks(SERVER_CHECKS, request.only, request.skip).map((check) => ({
        id: check.id,
        name: check.name,
        passed: false,
        points: 0,
        max: check.points,
        detail: check.id === 'registration' ? `${result.error}: ${registration!.text.slice(0, 100)}` : 'not reachable (no listenport)',
      }));
      for (const row of results) request.onResult?.(row);
      return gradeOf(`registration from ${registration!.host}`, 'server', results);
    }
    // A server may register first and listen a moment later, as the classic one does.
    const up = await pollFor(() => acceptsConnections(address.host, address.port, CONNECT_TIMEOUT_MS), request.settings.startTimeoutMs);
    if (!up) throw new TargetError(`the server registered listenport ${address.port}, but nothing listens on ${label(address)}`);
  }
  const context: ServerContext = { ...address, settings: request.settings, registration };
  return finish(request, label(address), checks, context, address, run);
}

async function waitRegistration(broker: GraderBroker, timeoutMs: number): Promise<ReceivedRegistration> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      broker.registered,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TargetError(`no server registered with ${label(broker.address)} within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function requireTarget(request: GradeRequest): Address {
  if (request.target === undefined) throw new TargetError(`${request.kind}: --target HOST:PORT is needed`);
  return request.target;
}

async function finish<C>(request: GradeRequest, target: string, all: ReadonlyArray<Check<C>>, context: C, address: Address, run: Run): Promise<Grade> {
  const checks = selectChecks(all, request.only, request.skip);
  const submission = run.submission;
  const results = await runChecks(checks, context, {
    checkTimeoutMs: request.settings.checkTimeoutMs,
    reachable: () => acceptsConnections(address.host, address.port, CONNECT_TIMEOUT_MS),
    explain: submission === undefined ? undefined : () => deathNote(submission),
    onResult: request.onResult,
  });
  return gradeOf(target, request.kind, results);
}

/** "; the submission exited (code 1); it printed: Traceback … | ValueError: …", once it has exited (waited for briefly). */
async function deathNote(submission: Submission): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([submission.exited, new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
  clearTimeout(timer);
  const how = submission.exitDescription;
  return how === undefined ? '' : `; the submission ${how}${submission.printed()}`;
}

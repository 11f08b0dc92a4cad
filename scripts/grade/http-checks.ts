/**
 * The checks of an HTTP proxy / load balancer (docs/grading.md says why each matters). The
 * grader's own backends are behind the target (its servers.conf lists them); requests carry no
 * X-Privacy-Policy, so a policy-aware proxy uses its default policy. The checks that may break
 * the target come last.
 */
import { atOnce, connectAll } from './at-once.js';
import { balanceFloor, isBalanced } from './balance.js';
import { fail, pass, type Check, type Scope } from './check.js';
import { GRADED_PREFIX, type GraderBackend } from './grader-backend.js';
import { describeHttp, getRequest, HttpConnection } from './http-connection.js';
import type { GradeSettings } from './options.js';
import type { Response } from './response-parser.js';
import { pollFor } from './submission.js';

export interface HttpContext {
  host: string;
  port: number;
  settings: GradeSettings;
  backends: GraderBackend[];
}

let nextTag = 0;
const tag = (check: string) => `${check}-${nextTag++}-${Math.random().toString(36).slice(2, 8)}`;
const fmt = (n: number) => n.toLocaleString('en-US');

async function connection(context: HttpContext, scope: Scope): Promise<HttpConnection> {
  return scope.own(await HttpConnection.open(context.host, context.port, context.settings.answerTimeoutMs));
}

/** What a grader backend put in its body: which backend answered which path. */
function answeredBy(response: Response): { backend: string; path: string; requestId: string | null; method: string; body: string } | undefined {
  try {
    const body = JSON.parse(response.body.toString('utf8')) as { backend?: unknown; path?: unknown; requestId?: unknown; method?: unknown; body?: unknown };
    if (typeof body.backend === 'string' && typeof body.path === 'string') {
      return { backend: body.backend, path: body.path, requestId: typeof body.requestId === 'string' ? body.requestId : null, method: String(body.method), body: typeof body.body === 'string' ? body.body : '' };
    }
  } catch {
    // not a grader backend's answer
  }
  return undefined;
}

/** GETs path on `conn` and checks the answer is a grader backend's 200 for that path; returns the backend's name. */
async function get(context: HttpContext, conn: HttpConnection, path: string, headers: Record<string, string> = {}): Promise<{ backend: string; response: Response }> {
  conn.write(getRequest(path, headers));
  const response = await conn.nextResponse(context.settings.answerTimeoutMs, `GET ${path}`);
  const answer = answeredBy(response);
  if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status} ${response.body.toString('utf8').slice(0, 80)}`);
  if (answer === undefined) throw new Error(`GET ${path}: the body is not a grader backend's answer: ${response.body.toString('utf8').slice(0, 80)}`);
  if (answer.path !== path) throw new Error(`GET ${path}: answered for ${answer.path} instead`);
  return { backend: answer.backend, response };
}

/** `count` GETs one after another on one connection; the names of the backends that answered. */
async function getEach(context: HttpContext, conn: HttpConnection, count: number, pathOf: (i: number) => string): Promise<Array<{ backend: string; response: Response }>> {
  const answers: Array<{ backend: string; response: Response }> = [];
  for (let i = 0; i < count; i++) {
    if (!conn.open) throw new Error(`the proxy closed the client connection after ${i} of ${count} requests`);
    answers.push(await get(context, conn, pathOf(i)));
  }
  return answers;
}

/** Requests counted per backend, in the order of context.backends. */
function spread(context: HttpContext, names: string[]): number[] {
  return context.backends.map((backend) => names.filter((name) => name === backend.name).length);
}

/** "b1: 100, b2: 0, b3: 200" */
function perBackend(context: HttpContext, names: string[]): string {
  const counts = spread(context, names);
  return context.backends.map((backend, i) => `${backend.name}: ${fmt(counts[i]!)}`).join(', ');
}

/** Graded arrivals at all backends from index `since` on (per backend), with their connection keys. */
function arrivalsSince(context: HttpContext, since: number[]): Array<{ backend: string; connection: number; path: string }> {
  return context.backends.flatMap((backend, i) => backend.arrivals.slice(since[i]).map((arrival) => ({ backend: backend.name, connection: arrival.connection, path: arrival.path })));
}

/**
 * Before the checks: GETs on fresh connections until every grader backend has answered one, or
 * timeoutMs passes. A proxy started before the grader's backends may have marked them down;
 * its health checks need a moment to bring them back. False when some backend never answered.
 */
export async function warmUp(context: HttpContext, timeoutMs: number): Promise<boolean> {
  const unseen = new Set(context.backends.map((backend) => backend.name));
  return pollFor(async () => {
    const conn = await HttpConnection.open(context.host, context.port, context.settings.answerTimeoutMs).catch(() => undefined);
    if (conn === undefined) return false;
    try {
      unseen.delete((await get(context, conn, `/warm-up/${tag('w')}`)).backend);
    } catch {
      // not yet
    } finally {
      conn.destroy();
    }
    return unseen.size === 0;
  }, timeoutMs);
}

const marks = (context: HttpContext) => context.backends.map((backend) => backend.arrivals.length);

export const HTTP_CHECKS: ReadonlyArray<Check<HttpContext>> = [
  {
    id: 'forwards',
    name: 'request forwarded',
    points: 2,
    async run(context, scope) {
      const conn = await connection(context, scope);
      const path = `${GRADED_PREFIX}forwards/${tag('f')}`;
      const { backend } = await get(context, conn, path);
      return pass(`GET ${path.slice(0, 30)}… answered 200 by backend ${backend}`);
    },
  },
  {
    id: 'request-id',
    name: 'X-Request-ID preserved',
    points: 2,
    async run(context, scope) {
      const conn = await connection(context, scope);
      const id = `grade-${tag('rid')}`;
      const path = `${GRADED_PREFIX}request-id/${tag('r')}`;
      const { response } = await get(context, conn, path, { 'X-Request-ID': id });
      const seen = answeredBy(response)!.requestId;
      if (seen !== id) return fail(`sent X-Request-ID ${id}; the backend got ${seen === null ? 'none' : seen}`);
      const back = response.headers['x-request-id'];
      if (back !== id) return fail(`the backend got ${id}, but the response to the client carries ${back === undefined ? 'no X-Request-ID' : back}`);
      return pass(`X-Request-ID ${id} reached the backend and came back to the client unchanged`);
    },
  },
  {
    id: 'keep-alive',
    name: 'persistent client connections',
    points: 2,
    async run(context, scope) {
      const count = 12;
      const conn = await connection(context, scope);
      const answers = await getEach(context, conn, count, () => `${GRADED_PREFIX}keep-alive/${tag('k')}`);
      const closing = answers.findIndex(({ response }) => /\bclose\b/i.test(response.headers.connection ?? ''));
      if (closing !== -1 && closing < count - 1) return fail(`response ${closing + 1} of ${count} says Connection: close: the client connection is not kept alive`);
      return pass(`${count} requests on one client connection, all answered on it`);
    },
  },
  {
    id: 'backend-reuse',
    name: 'backend connections reused',
    points: 1,
    async run(context, scope) {
      const count = 12;
      const conn = await connection(context, scope);
      const since = marks(context);
      await getEach(context, conn, count, () => `${GRADED_PREFIX}backend-reuse/${tag('u')}`);
      const upstream = new Set(arrivalsSince(context, since).map((arrival) => `${arrival.backend}#${arrival.connection}`)).size;
      const detail = `${count} requests one after another reached the backends over ${upstream} connections`;
      // A proxy that keeps its backend connections open needs about one per backend, not one per request.
      return upstream <= count / 2 ? pass(detail) : fail(`${detail}: a new backend connection per request? (keep the proxy's connections to its backends open and reuse them)`);
    },
  },
  {
    id: 'post-body',
    name: 'request body forwarded',
    points: 2,
    async run(context, scope) {
      const conn = await connection(context, scope);
      const path = `${GRADED_PREFIX}post/${tag('b')}`;
      const body = 'hello=world';
      conn.write(`POST ${path} HTTP/1.1\r\nHost: grader\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      const response = await conn.nextResponse(context.settings.answerTimeoutMs, `POST ${path} with an ${body.length}-byte body`);
      const answer = answeredBy(response);
      if (response.status !== 200 || answer === undefined) return fail(`POST with a body: HTTP ${response.status} ${response.body.toString('utf8').slice(0, 80)}`);
      if (answer.method !== 'POST' || answer.path !== path) return fail(`POST ${path}: the backend got ${answer.method} ${answer.path}`);
      if (answer.body !== body) return fail(`POST with body "${body}" (Content-Length ${body.length}): the backend got body ${JSON.stringify(answer.body.slice(0, 60))}`);
      if (!conn.open) return fail('the proxy closed the client connection after a POST (the same connection should carry the next request)');
      const next = `${GRADED_PREFIX}after-post/${tag('a')}`;
      try {
        await get(context, conn, next);
      } catch (err) {
        return fail(`after a POST with body "${body}", a GET on the same connection: ${(err as Error).message} (a proxy that does not read the body by its Content-Length takes it for the start of the next request: "${body}GET …")`);
      }
      return pass(`a POST's ${body.length}-byte body reached the backend, and the GET after it on the same connection was answered`);
    },
  },
  {
    id: 'balance',
    name: 'balanced per request',
    points: 3,
    async run(context, scope) {
      const count = context.settings.balanceCount;
      const conn = await connection(context, scope);
      const names = (await getEach(context, conn, count, (i) => `${GRADED_PREFIX}balance/${i}`)).map((answer) => answer.backend);
      const shares = spread(context, names);
      const detail = `${fmt(count)} requests on one connection over ${context.backends.length} backends: ${perBackend(context, names)}`;
      return isBalanced(shares, count) ? pass(detail) : fail(`${detail} (each should get at least ${fmt(balanceFloor(count, shares.length))}: balanced per connection?)`);
    },
  },
  {
    id: 'pipelining',
    name: 'pipelined requests in order',
    points: 3,
    async run(context, scope) {
      const count = context.settings.pipelineCount;
      const conn = await connection(context, scope);
      const base = `${GRADED_PREFIX}pipe/${tag('p')}/`;
      let batch = '';
      for (let i = 0; i < count; i++) batch += getRequest(`${base}${i}`);
      conn.write(batch);
      for (let i = 0; i < count; i++) {
        const received = await conn.next(context.settings.answerTimeoutMs);
        if (received.kind !== 'response') return fail(`${count} requests in one write: ${i} answered, then ${describeHttp(received, context.settings.answerTimeoutMs)}`);
        const answer = answeredBy(received.response);
        if (received.response.status !== 200 || answer === undefined) return fail(`response ${i + 1} of ${count}: HTTP ${received.response.status}, not a backend's answer`);
        if (answer.path !== `${base}${i}`) return fail(`response ${i + 1} of ${count} is the answer to request ${Number(answer.path.slice(base.length)) + 1} of ${count}: out of order (HTTP/1.1 answers pipelined requests in the order they came)`);
      }
      return pass(`${count} requests in one write: all answered, in order`);
    },
  },
  {
    id: 'concurrent',
    name: 'many concurrent clients',
    points: 2,
    async run(context, scope) {
      const { concurrentClients: clients, perClientCount: each } = context.settings;
      const conns = await connectAll(clients, () => connection(context, scope));
      if (!Array.isArray(conns)) return fail(`${clients} clients connecting at once: ${conns.refused} of them got ${conns.first}: one client at a time? (a serial server's listen queue holds only a few waiting clients)`);
      const { done: answered, failures } = await atOnce(conns, each, (conn, c, i) => get(context, conn, `${GRADED_PREFIX}concurrent/${c}/${i}`));
      const detail = `${clients} clients × ${each} requests at once: ${fmt(answered)} of ${fmt(clients * each)} answered`;
      if (failures.length === 0) return pass(detail);
      const stalled = failures.some((failure) => /no response within/.test(failure));
      return fail(`${detail}; ${failures.length} clients failed (${failures[0]})${stalled ? ': one client at a time?' : ''}`);
    },
  },
  {
    id: 'backend-killed',
    name: 'backend killed mid-run',
    points: 3,
    async run(context, scope) {
      const victim = context.backends[1]!;
      const { failoverCount: count } = context.settings;
      victim.dieOnNextRequest();
      // Fresh connections until a request lands on the victim, which dies holding it.
      for (let i = 0; i < 20 && !victim.isDead; i++) {
        const conn = await connection(context, scope);
        try {
          await get(context, conn, `${GRADED_PREFIX}killed/${tag('k')}`);
        } catch (err) {
          return fail(`${victim.isDead ? `the request in flight on killed backend ${victim.name}` : 'before the kill'}: ${(err as Error).message}`);
        } finally {
          conn.destroy();
        }
      }
      if (!victim.isDead) return fail(`backend ${victim.name} got none of 20 requests, so it could not be killed mid-request`);
      let conn = await connection(context, scope);
      const names: string[] = [];
      for (let i = 0; i < count; i++) {
        // A proxy may close a connection after answering; the client then opens another, as browsers do.
        if (!conn.open) conn = await connection(context, scope);
        try {
          names.push((await get(context, conn, `${GRADED_PREFIX}after-kill/${i}`)).backend);
        } catch (err) {
          return fail(`request ${i + 1} of ${count} after the kill failed: ${(err as Error).message}`);
        }
      }
      return pass(`the request in flight on ${victim.name} was answered 200 by another backend; ${count} later requests all 200 (${perBackend(context, names)})`);
    },
  },
  {
    id: 'malformed',
    name: 'malformed request survived',
    points: 2,
    async run(context, scope) {
      const seen: string[] = [];
      const junks = ['THIS IS NOT HTTP\r\n\r\n', 'GET / HTTP/1.1\r\nHost: grader\r\nBad Header Line\r\n\r\n', 'GET / HTTP/1.1\r\nHost: grader\r\nContent-Length: -5\r\n\r\n'];
      for (const [i, junk] of junks.entries()) {
        const conn = await connection(context, scope).catch((err: Error) => err);
        if (conn instanceof Error) {
          if (i === 0) throw conn;
          return fail(`after malformed request ${i} (${JSON.stringify(junks[i - 1])}) the proxy is gone (answers: ${seen.join(', ')}): ${conn.message}`);
        }
        conn.write(junk);
        const received = await conn.next(context.settings.answerTimeoutMs);
        conn.destroy();
        seen.push(received.kind === 'response' ? String(received.response.status) : received.kind);
        if (received.kind === 'response' && received.response.status < 300) {
          return fail(`malformed request ${i + 1} (${JSON.stringify(junk)}) was answered ${received.response.status}: a request the proxy cannot frame must be refused (400) or the connection closed, never passed on`);
        }
      }
      const conn = await connection(context, scope).catch((err: Error) => err);
      if (conn instanceof Error) return fail(`after 3 malformed requests (answers: ${seen.join(', ')}; the last was ${JSON.stringify(junks[2])}) the proxy is gone: ${conn.message}`);
      try {
        await get(context, conn, `${GRADED_PREFIX}after-malformed/${tag('m')}`);
      } catch (err) {
        return fail(`after 3 malformed requests (answers: ${seen.join(', ')}) the next request failed: ${(err as Error).message}`);
      }
      return pass(`not HTTP, a header without a colon, a negative Content-Length (answers: ${seen.join(', ')}); the next request was served`);
    },
  },
];

/**
 * W3C traceparent through the HTTP front end, to a backend written in the test: a valid one
 * arrives unchanged; with the default --traceparent generate, a request without one (or with an
 * invalid one) arrives with a new valid one; with --traceparent pass, what the client sent
 * arrives as it was. The trace line names the traceparent the backend got, so a request can
 * be followed from the broker's log into the backend's.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isTraceparent } from '../../broker/trace/traceparent.js';
import { get, httpBackend, startHttpBroker, tempDir, waitFor, writeServersConf, type HttpBroker } from '../helpers/http.js';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

let backend: Awaited<ReturnType<typeof httpBackend>>;
let generating: HttpBroker;
let passing: HttpBroker;
const dir = tempDir('pb-traceparent-');

before(async () => {
  backend = await httpBackend((req, res) => {
    const body = JSON.stringify({ traceparent: req.headers.traceparent ?? null, tracestate: req.headers.tracestate ?? null });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  const conf = writeServersConf(dir.dir, [{ port: backend.port, policy: 111 }]);
  // The trace lines are logged at info.
  generating = await startHttpBroker(['--servers', conf, '--trace', '--health-interval', '0'], { logLevel: 'info' });
  passing = await startHttpBroker(['--servers', conf, '--traceparent', 'pass', '--health-interval', '0']);
});

after(async () => {
  await generating?.broker.stop('SIGKILL');
  await passing?.broker.stop('SIGKILL');
  await backend?.close();
  dir.remove();
});

async function seen(broker: HttpBroker, headers: Record<string, string>): Promise<{ traceparent: string | null; tracestate: string | null }> {
  const res = await get(`${broker.origin}/`, { 'x-privacy-policy': '111', ...headers });
  assert.equal(res.status, 200, res.body);
  return JSON.parse(res.body);
}

const traceLine = (broker: HttpBroker, traceparent: string) =>
  waitFor(`the trace line with ${traceparent}`, () => broker.broker.stderr().split('\n').find((line) => line.includes(`traceparent ${traceparent}`)));

test('a valid traceparent reaches the backend unchanged, with its tracestate, and is in the trace line', async () => {
  const got = await seen(generating, { traceparent: VALID, tracestate: 'vendor=abc' });
  assert.equal(got.traceparent, VALID);
  assert.equal(got.tracestate, 'vendor=abc');
  const line = await traceLine(generating, VALID);
  assert.match(line, /"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"/, 'the decision record carries it too');
});

test('generate (the default): a request without one gets a new valid traceparent, the one in the trace line', async () => {
  const got = await seen(generating, {});
  assert.ok(got.traceparent !== null && isTraceparent(got.traceparent), String(got.traceparent));
  assert.match(got.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  await traceLine(generating, got.traceparent);
});

test('generate: an invalid traceparent is replaced, and its tracestate dropped', async () => {
  const bad = '00-00000000000000000000000000000000-00f067aa0ba902b7-01';
  const got = await seen(generating, { traceparent: bad, tracestate: 'vendor=abc' });
  assert.ok(got.traceparent !== null && isTraceparent(got.traceparent));
  assert.notEqual(got.traceparent, bad);
  assert.equal(got.tracestate, null);
});

test('pass: nothing is made, and what the client sent goes on as it was', async () => {
  assert.equal((await seen(passing, {})).traceparent, null);
  assert.equal((await seen(passing, { traceparent: 'not-a-traceparent' })).traceparent, 'not-a-traceparent');
  assert.equal((await seen(passing, { traceparent: VALID })).traceparent, VALID);
});

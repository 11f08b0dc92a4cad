/**
 * What the broker logs when a server goes: a graceful leave is routine (info, never a warn),
 * and a classic server that disappears gets a line for its removal. Checked by the log's
 * fields (level, id, reason), not its wording, after the broker has stopped and flushed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClassicServer, classicRequest } from '../helpers/classic.js';
import { brokerStatus, startHttpBroker, waitFor } from '../helpers/http.js';
import { start } from '../helpers/programs.js';

interface LogEvent {
  level: string;
  message: string;
  id?: number;
  reason?: string;
}

function eventsOf(stderr: string, id: number): LogEvent[] {
  const events: LogEvent[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line) as LogEvent;
    if (event.id === id) events.push(event);
  }
  return events;
}

const serverCount = async (httpPort: number) => (await brokerStatus(httpPort)).policies.reduce((n: number, p: any) => n + p.servers.length, 0);

test('a graceful leave is logged at info with its reason, and nothing about it at warn', async () => {
  const b = await startHttpBroker(['--log-format', 'json'], { logLevel: 'info' });
  try {
    const pool = start('pool', ['--broker', `127.0.0.1:${b.port}`, '--policy', '111', '--ids', '100']);
    await pool.ready;
    assert.equal(await pool.stop('SIGTERM'), 0);
    await waitFor('server 100 gone', async () => (await serverCount(b.httpPort)) === 0);
  } finally {
    await b.broker.stop();
  }
  const events = eventsOf(b.broker.stderr(), 100);
  assert.deepEqual(events.filter((e) => e.level !== 'info'), [], 'no warn or error for a leave');
  assert.ok(events.some((e) => e.reason === 'left'), JSON.stringify(events));
});

test('a classic server that is gone gets a line for its removal', async () => {
  const b = await startHttpBroker(['--log-format', 'json'], { logLevel: 'info' });
  try {
    const server = await ClassicServer.start(300, 222, b.port, 0);
    assert.equal((await classicRequest(b.port, 1, 222, 'a')).type, 2);
    server.close();
    await waitFor('server 300 removed', async () => {
      await classicRequest(b.port, 1, 222, 'b');
      return (await serverCount(b.httpPort)) === 0;
    });
  } finally {
    await b.broker.stop();
  }
  const events = eventsOf(b.broker.stderr(), 300);
  const last = events.at(-1)!;
  // Registered, up, then (the connection lost, a warn) and last the removal, at info, with why.
  assert.equal(last.level, 'info', JSON.stringify(events));
  assert.equal(typeof last.reason, 'string', JSON.stringify(events));
  assert.ok(events.length >= 3, JSON.stringify(events));
});

test('a session server killed with SIGKILL is logged as its session lost, never as "left"', async () => {
  const b = await startHttpBroker(['--log-format', 'json'], { logLevel: 'info' });
  try {
    const pool = start('pool', ['--broker', `127.0.0.1:${b.port}`, '--policy', '111', '--ids', '100']);
    await pool.ready;
    await pool.stop('SIGKILL');
    await waitFor('server 100 gone', async () => (await serverCount(b.httpPort)) === 0);
  } finally {
    await b.broker.stop();
  }
  const events = eventsOf(b.broker.stderr(), 100);
  // Whichever the broker notices first, the data link's reset or the session's close, the log
  // says the connection was lost, and no line reads as a graceful leave.
  assert.ok(events.some((e) => e.message === 'server connection lost' || e.reason === 'session connection lost without a leave'), JSON.stringify(events));
  assert.ok(!events.some((e) => e.reason === 'left' || e.reason === 'session closed'), JSON.stringify(events));
});

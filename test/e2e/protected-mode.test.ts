/**
 * Protected mode on real hosts (network namespaces): a broker listening beyond loopback with no
 * secret takes registrations from loopback and --allow-register-from only. A registering host
 * outside the allow-list is refused with UNAUTHORIZED and a hint naming the flags; one inside is
 * served; with --registration-secret, any host with the secret is; with
 * --insecure-open-registration, any host is (and the broker warns at start).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { figures } from '../helpers/fault.js';
import { createNetwork, unavailable, type Network } from '../helpers/netns.js';
import { run, start, type Program } from '../helpers/programs.js';

const PREFIX = 'pbprot';
const SUBNET = '10.204.0';
const HOSTS = { broker: `${SUBNET}.1`, inside: `${SUBNET}.11`, outside: `${SUBNET}.21` };
const PORT = 2100;

let network: Network | undefined;
const programs: Program[] = [];
after(async () => {
  for (const program of programs.reverse()) await program.stop('SIGKILL');
  network?.remove();
});

/** The broker in its namespace on 0.0.0.0 with `args`; its start-up log is kept (info level). */
async function broker(args: string[]): Promise<Program> {
  const b = start('broker', ['--host', '0.0.0.0', '--port', String(PORT), '--log-format', 'json', ...args], { netns: network!.ns('broker'), logLevel: 'info' });
  programs.push(b);
  await b.ready;
  return b;
}

/** Replies by server id to 10 packets of policy 111 sent by a client on the outside host (clients need no permission). */
async function served(): Promise<Record<string, number>> {
  const result = await run('client', ['--broker', `${HOSTS.broker}:${PORT}`, '--policy', '111', '--count', '10', '--json'], { netns: network!.ns('outside'), timeoutMs: 30_000 });
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}').byServer ?? {};
}

/** A server pool on `host` registering server `id`: 'ready' (and what it served), or what it said when it exited. */
async function register(host: 'inside' | 'outside' | 'broker', id: number, extra: string[] = []): Promise<string> {
  const target = host === 'broker' ? `127.0.0.1:${PORT}` : `${HOSTS.broker}:${PORT}`;
  const listen = host === 'broker' ? '127.0.0.1' : HOSTS[host];
  const pool = start('pool', ['--broker', target, '--policy', '111', '--ids', String(id), '--listen-host', listen, '--port', '0', ...extra], { netns: network!.ns(host) });
  programs.push(pool);
  let outcome = await Promise.race([pool.ready.then(() => 'ready'), pool.exited.then(() => pool.stderr().trim().split('\n').pop() ?? '')]);
  if (outcome === 'ready') outcome = `ready, served ${(await served())[String(id)] ?? 0}`;
  await pool.stop('SIGTERM');
  return outcome;
}

/** The registration-mode line of the broker's start-up log. */
function modeLine(b: Program): Record<string, unknown> {
  for (const line of b.stderr().split('\n').concat(b.lines)) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line);
    if (entry.message === 'registration mode') return entry;
  }
  return {};
}

test('protected mode across hosts: outside the allow-list refused with a hint, inside served; secret and open mode as documented', { timeout: 120_000 }, async (t) => {
  const why = unavailable();
  if (why !== undefined) {
    t.skip(why);
    return;
  }
  network = createNetwork(PREFIX, HOSTS);
  const results: Record<string, unknown> = {};

  // Default beyond loopback, no secret: only the broker's own host.
  let b = await broker([]);
  results.protected = { mode: modeLine(b).mode, outside: await register('outside', 100), local: await register('broker', 101) };
  await b.stop();

  b = await broker(['--allow-register-from', `${SUBNET}.8/29`]);
  results.allowList = { mode: modeLine(b).mode, inside: await register('inside', 200), outside: await register('outside', 201) };
  await b.stop();

  b = await broker(['--registration-secret', 'a-long-enough-secret']);
  results.secret = { mode: modeLine(b).mode, outsideWithSecret: await register('outside', 300, ['--secret', 'a-long-enough-secret']), outsideWithout: await register('outside', 301) };
  await b.stop();

  b = await broker(['--insecure-open-registration']);
  const open = modeLine(b);
  results.open = { mode: open.mode, level: open.level, outside: await register('outside', 400) };
  await b.stop();
  figures('protected-mode', results);

  const r = results as any;
  assert.equal(r.protected.mode, 'protected');
  assert.match(r.protected.outside, /UNAUTHORIZED .*--allow-register-from.*--registration-secret.*--insecure-open-registration/);
  assert.equal(r.protected.local, 'ready, served 10');
  assert.equal(r.allowList.inside, 'ready, served 10');
  assert.match(r.allowList.outside, /UNAUTHORIZED/);
  assert.equal(r.secret.mode, 'secret');
  assert.equal(r.secret.outsideWithSecret, 'ready, served 10');
  assert.match(r.secret.outsideWithout, /UNAUTHORIZED/);
  assert.equal(r.open.mode, 'open');
  assert.equal(r.open.level, 'warn');
  assert.equal(r.open.outside, 'ready, served 10');
});

/**
 * A client in its own process, so that what it measures is the broker and not the test's event
 * loop: `node pinger.js PORT POLICY` sends one packet after another to 127.0.0.1:PORT until its
 * stdin closes (or 60 s pass), then prints one JSON line: [{at, ms, ok}, …] with `at` the send
 * time (Date.now()) and `ms` the round trip.
 */
import { BrokerClient } from '../../client/index.js';

const [port, policy] = process.argv.slice(2).map(Number);
const client = await BrokerClient.connect({ host: '127.0.0.1', port: port!, timeoutMs: 30_000 });
const pings: Array<{ at: number; ms: number; ok: boolean }> = [];
let running = true;
process.stdin.on('end', () => (running = false)).resume();
const deadline = Date.now() + 60_000;
process.stdout.write('{"ready":true}\n');
for (let n = 0; running && Date.now() < deadline; n++) {
  const at = Date.now();
  const started = performance.now();
  const answer = await client.send({ type: 0, srcid: 1, privPoliId: policy!, payload: `ping-${n}` });
  pings.push({ at, ms: performance.now() - started, ok: answer.type === 2 });
}
process.stdout.write(JSON.stringify(pings) + '\n');
await client.close();

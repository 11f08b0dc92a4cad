/**
 * npm run demo: the classic lab on defaults. A broker, servers 100 and 300 in policy 111 and
 * 200 and 400 in policy 222, fifteen clients with random policies, a table of who served whom,
 * then a short load per policy to show the spread. Stops by itself; exits 1 if anything was
 * lost or wrong.
 */
import { BrokerClient, runLoad } from '../client/index.js';
import { sha1Hex } from '../broker/support/sha1.js';
import { start, startBroker, type Program } from './lib/programs.js';
import { textTable, type Cell } from './lib/text-table.js';

const TOPOLOGY: Record<number, number[]> = { 111: [100, 300], 222: [200, 400] };
const CLIENTS = 15;
const LOAD_PER_POLICY = 2000;

const programs: Program[] = [];
let failed = false;

async function main(): Promise<void> {
  const { broker, port } = await startBroker();
  programs.push(broker);
  console.log(`broker listening on 127.0.0.1:${port}`);
  for (const [policy, ids] of Object.entries(TOPOLOGY)) {
    const pool = start('pool', ['--broker', `127.0.0.1:${port}`, '--policy', policy, '--ids', ids.join(',')]);
    programs.push(pool);
    const ready = await pool.ready;
    const servers = (ready.servers as Array<{ id: number; port: number }>).map((s) => `${s.id} (port ${s.port})`);
    console.log(`policy ${policy}: servers ${servers.join(', ')}`);
  }

  console.log(`\n${CLIENTS} clients, one packet each, random policies:\n`);
  const rows: Cell[][] = [];
  const policies = Object.keys(TOPOLOGY).map(Number);
  for (let srcid = 1; srcid <= CLIENTS; srcid++) {
    const policy = policies[Math.floor(Math.random() * policies.length)]!;
    const payload = `hello from client ${srcid}`;
    const client = await BrokerClient.connect({ host: '127.0.0.1', port });
    const answer: any = await client.send({ type: 0, srcid, privPoliId: policy, payload });
    await client.close();
    const served = answer.type === 2 ? answer.srcid : `error ${answer.code}`;
    const verified = answer.type === 2 && answer.payload === sha1Hex(payload) && TOPOLOGY[policy]!.includes(answer.srcid);
    if (!verified) failed = true;
    // Ids are strings: textTable left-aligns them and right-aligns the counts.
    rows.push([String(srcid), String(policy), String(served), verified ? 'yes' : 'NO']);
  }
  console.log(textTable(['client', 'policy', 'server', 'verified (sha1, right policy)'], rows));

  console.log(`\nLoad: ${LOAD_PER_POLICY} packets per policy, 32 in flight, round-robin per packet:\n`);
  const loadRows: Cell[][] = [];
  for (const policy of policies) {
    const summary = await runLoad({ port, policy, count: LOAD_PER_POLICY, concurrency: 32, verify: 'sha1' });
    if (summary.lost > 0 || summary.verifyFailed > 0) failed = true;
    const spread = Object.entries(summary.byServer).map(([id, n]) => `${id}: ${n}`).join(', ');
    loadRows.push([String(policy), summary.answered, summary.lost, spread, Math.round(summary.rps), summary.p99Ms.toFixed(2)]);
  }
  console.log(textTable(['policy', 'answered', 'lost', 'packets per server', 'answers/s', 'p99 ms'], loadRows));
  console.log(failed ? '\nSomething was lost or wrong: see above.' : '\nEvery packet answered by a server of its own policy.');
}

try {
  await main();
} catch (err) {
  failed = true;
  console.error(`demo failed: ${(err as Error).message}`);
} finally {
  for (const program of programs.reverse()) await program.stop();
}
process.exit(failed ? 1 : 0);

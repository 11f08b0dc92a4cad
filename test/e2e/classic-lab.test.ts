import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startBroker } from '../helpers/programs.js';
import { ClassicServer, classicRequest, sha1 } from '../helpers/classic.js';

test('classic lab scripts are served unchanged: string fields, no newline, closed registration, late listen', async () => {
  const { broker, port } = await startBroker();
  const servers: ClassicServer[] = [];
  after(async () => {
    for (const server of servers) server.close();
    await broker.stop();
  });
  // Server 100 starts listening 300 ms after registering: the broker must keep dialing.
  servers.push(await ClassicServer.start(100, 111, port, 300));
  servers.push(await ClassicServer.start(300, 111, port, 0));
  servers.push(await ClassicServer.start(200, 222, port, 0));

  const answers: Array<{ policy: number; answer: any }> = [];
  for (let i = 0; i < 12; i++) {
    const policy = i % 3 === 2 ? 222 : 111;
    const payload = `payload-${i}`;
    const answer = await classicRequest(port, i + 1, policy, payload);
    answers.push({ policy, answer });
    assert.equal(answer.type, 2, JSON.stringify(answer));
    assert.equal(answer.payload, sha1(payload));
    assert.equal(answer.destid, i + 1);
  }
  const serversOf = (policy: number) => new Set(answers.filter((a) => a.policy === policy).map((a) => a.answer.srcid));
  assert.deepEqual([...serversOf(111)].sort(), [100, 300]);
  assert.deepEqual([...serversOf(222)], [200]);
  assert.equal(servers[0]!.served + servers[1]!.served, 8);
  assert.equal(servers[2]!.served, 4);
});

test('a classic server that is gone is dropped: its policy answers NO_SERVER, not a hang', async () => {
  const { broker, port } = await startBroker();
  after(() => broker.stop());
  const server = await ClassicServer.start(100, 111, port, 0);
  assert.equal((await classicRequest(port, 1, 111, 'a')).type, 2);
  server.close();
  // The next packet finds the connection reset or refused: the server is removed and the
  // packet answered with an error instead of being lost.
  const answer = await classicRequest(port, 1, 111, 'b');
  assert.equal(answer.type, 3);
  assert.ok(['UNAVAILABLE', 'NO_SERVER'].includes(answer.code), answer.code);
});

#!/usr/bin/env node
/**
 * The NATS peer's servers: `--count` responders in one process, each on its own connection,
 * in one queue group, answering each request with the SHA-1 hex of its data, as the policy
 * servers do. Prints {"ready":true} once every subscription is registered with the server.
 */
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect } from 'nats';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    count: { type: 'string', default: '3' },
    subject: { type: 'string', default: 'bench.sha1' },
  },
});

const conns = await Promise.all(Array.from({ length: Number(args.count) }, () => connect({ servers: `127.0.0.1:${args.port}` })));
for (const nc of conns) {
  nc.subscribe(args.subject!, {
    queue: 'responders',
    callback: (err, msg) => {
      if (err === null) msg.respond(Buffer.from(createHash('sha1').update(msg.data).digest('hex')));
    },
  });
}
await Promise.all(conns.map((nc) => nc.flush()));
process.stdout.write(JSON.stringify({ ready: true, responders: conns.length }) + '\n');
const stop = (): void => {
  void Promise.all(conns.map((nc) => nc.close())).then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

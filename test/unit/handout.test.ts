import assert from 'node:assert/strict';
import { test } from 'node:test';
import { optionsUsed, parseHandout, substitutePorts } from '../helpers/handout.js';

const HANDOUT = [
  '# Lab',
  '<!-- lab: ports 2100 8080 -->',
  '```sh background name=broker',
  'node dist/broker/main.js --port 2100 --http-port 8080',
  '```',
  '```sh background name=web ready=port:8001',
  'nginx -g "daemon off;"',
  '```',
  'Text. ![shot](img/a.png)',
  '```sh',
  'node dist/client/main.js --broker 127.0.0.1:2100 --policy 111 \\',
  '  --count 10 | grep lost',
  '```',
  '<!-- lab: expect /lost\\s+0/ -->',
  '<!-- lab: expect broker /server up/i -->',
  '```json',
  '{"not":"run"}',
  '```',
  '```sh manual',
  'npx policy-broker --host 0.0.0.0 --allow-register-from 10.0.0.0/8 # on EC2',
  '```',
  '<!-- lab: exited load code=1 -->',
  '<!-- lab: stop web -->',
  '<!-- lab: screenshot img/a.png http://127.0.0.1:8080/_broker/ wait=document.title!=="" -->',
  '<!-- lab: open http://127.0.0.1:8080/_broker/ -->',
  '<!-- lab: screenshot img/b.png element=#trace wait=a && b -->',
  '```sh cleanup',
  'rm -rf lab1',
  '```',
].join('\n');

test('parseHandout: steps in order, with their kinds, names and checks', () => {
  const h = parseHandout(HANDOUT);
  assert.deepEqual(h.ports, [2100, 8080]);
  assert.deepEqual(h.images, ['img/a.png']);
  assert.equal(h.needsRoot, false);
  assert.deepEqual(
    h.steps.map((s) => [s.kind, s.line, 'name' in s ? s.name : undefined]),
    [
      ['background', 3, 'broker'],
      ['background', 6, 'web'],
      ['run', 10, undefined],
      ['expect', 14, undefined],
      ['expect', 15, 'broker'],
      ['manual', 19, undefined],
      ['exited', 22, 'load'],
      ['stop', 23, 'web'],
      ['screenshot', 24, undefined],
      ['open', 25, undefined],
      ['screenshot', 26, undefined],
      ['cleanup', 27, undefined],
    ],
  );
  const [broker, web] = h.steps;
  assert.deepEqual([broker!.kind === 'background' && broker.ready, web!.kind === 'background' && web.ready], ['json', 'port:8001']);
  const expect = h.steps[4]!;
  assert.ok(expect.kind === 'expect' && expect.pattern.flags === 'i' && expect.pattern.test('Server Up'));
  const exited = h.steps[6]!;
  assert.ok(exited.kind === 'exited' && exited.code === 1);
  const shot = h.steps[8]!;
  assert.ok(shot.kind === 'screenshot' && shot.file === 'img/a.png' && shot.url === 'http://127.0.0.1:8080/_broker/' && shot.element === undefined && shot.wait === 'document.title!==""');
  const element = h.steps[10]!;
  assert.ok(element.kind === 'screenshot' && element.url === undefined && element.element === '#trace' && element.wait === 'a && b', JSON.stringify(element));
  assert.equal(parseHandout('<!-- lab: needs root -->').needsRoot, true);
});

test('parseHandout: what it cannot read is an error naming the line', () => {
  assert.throws(() => parseHandout('a\n```sh\nnever ends'), /line 2: a code block that never ends/);
  assert.throws(() => parseHandout('```sh background\nx\n```'), /line 1: a background block needs name=NAME/);
  assert.throws(() => parseHandout('```sh sometimes\nx\n```'), /line 1: unknown words after sh/);
  assert.throws(() => parseHandout('\n<!-- lab: expect lost 0 -->'), /line 2: expected \/regex\//);
  assert.throws(() => parseHandout('<!-- lab: frobnicate -->'), /unknown lab directive/);
  assert.throws(() => parseHandout('<!-- lab: ports 70000 -->'), /not a port/);
});

test('substitutePorts: whole port numbers only', () => {
  const ports = new Map([[2100, 41234], [8001, 40001]]);
  assert.equal(substitutePorts('--port 2100 127.0.0.1:2100 21000 12100 listen 8001; 8001x', ports), '--port 41234 127.0.0.1:41234 21000 12100 listen 40001; 8001x');
  assert.equal(substitutePorts('10.0.2.100:2100', ports), '10.0.2.100:41234');
  assert.equal(substitutePorts('unchanged 2100', new Map()), 'unchanged 2100');
});

test('optionsUsed: the options each command line gives our programs', () => {
  const script = [
    'node dist/broker/main.js --port 2100 --http-port 8080 &',
    'ip netns exec h node dist/server-pool/main.js --broker 1.2.3.4:2100 \\',
    '  --policy 111 | grep --count x',
    'npx policy-client --policy 1 --json && curl --silent x # --not-an-option',
    'npm run simulate -- --clients 3',
    'curl --fail http://x',
  ].join('\n');
  assert.deepEqual(optionsUsed(script), [
    ['broker', '--port'],
    ['broker', '--http-port'],
    ['pool', '--broker'],
    ['pool', '--policy'],
    ['client', '--policy'],
    ['client', '--json'],
    ['simulate', '--clients'],
  ]);
});

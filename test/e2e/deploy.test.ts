import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { run } from '../helpers/programs.js';
import { runScript } from '../helpers/scripts.js';

const SECRET = 'test-secret-0123456789abcdef';
const dir = mkdtempSync(path.join(tmpdir(), 'policy-broker-deploy-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const HOSTS = path.join(dir, 'hosts');
writeFileSync(
  HOSTS,
  [
    '# role host [user] [key=value ...]',
    'broker  broker.example.org  ubuntu  address=10.0.1.10',
    'server  10.0.1.21           ubuntu  policy=111 ids=100,300',
    'server  10.0.1.22                   policy=222 ids=200,400 port=7100  # no user: the ssh config decides',
    'client  10.0.1.30           admin   policy=111 count=500',
    '',
  ].join('\n'),
);

// Stand-ins for ssh and friends that leave a mark if a dry run ever runs one.
const BIN = path.join(dir, 'bin');
const MARK = path.join(dir, 'ssh-was-run');
mkdirSync(BIN);
for (const name of ['ssh', 'scp', 'rsync', 'sudo']) {
  writeFileSync(path.join(BIN, name), `#!/bin/sh\ntouch '${MARK}'\nexit 99\n`);
  chmodSync(path.join(BIN, name), 0o755);
}

/** deploy.sh with the secret in the environment and the stand-ins first on PATH. */
function deploy(args: string[], env: Record<string, string> = {}) {
  return runScript('deploy.sh', args, { timeoutMs: 30_000, env: { PATH: `${BIN}:${process.env.PATH}`, POLICY_BROKER_REGISTRATION_SECRET: SECRET, ...env } });
}

/** The "$ ssh ... TARGET 'command'" lines of a dry run, as [target, command]. */
function sshCommands(stdout: string): Array<[string, string]> {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('$ ssh '))
    .map((line) => {
      const match = /^\$ ssh (?:-\w \S+ )*(\S+) '(.*)'(?: < .*)?$/.exec(line);
      assert.ok(match, line);
      return [match[1]!, match[2]!.replace(/'\\''/g, "'")];
    });
}

test('deploy.sh --help documents the commands and the hosts file', async () => {
  const result = await runScript('deploy.sh', ['--help']);
  assert.equal(result.code, 0);
  for (const word of ['copy', 'install', 'start', 'stop', 'logs', 'status', '--dry-run', '--no-systemd', 'role host [user]']) assert.ok(result.stdout.includes(word), word);
  assert.equal((await runScript('deploy.sh', ['launch', HOSTS])).code, 2);
});

test('deploy.sh --dry-run install: environment files with the secret redacted, systemd units, private broker address', async () => {
  const result = await deploy(['--dry-run', 'install', HOSTS]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(existsSync(MARK), false, 'nothing was run');
  assert.ok(!result.stdout.includes(SECRET), 'the secret is never printed');
  const out = result.stdout;
  // The broker: its environment (secret included, redacted here), its unit.
  assert.match(out, /ubuntu@broker\.example\.org 'sudo install -D -m 600 \/dev\/stdin \/etc\/policy-broker\/policy-broker\.env'/);
  assert.match(out, /\| POLICY_BROKER_HOST=0\.0\.0\.0\n/);
  assert.match(out, /\| POLICY_BROKER_PORT=2100\n/);
  assert.match(out, /\| POLICY_BROKER_REGISTRATION_SECRET=<secret>\n/);
  // The node flags of the program's #! line, read from the build being sent.
  assert.match(out, /\| ExecStart=@NODE@ --min-semi-space-size=16 @DIR@\/dist\/broker\/main\.js\n/);
  assert.match(out, /\| EnvironmentFile=\/etc\/policy-broker\/policy-broker\.env\n/);
  assert.match(out, /sudo install -m 644 \/dev\/stdin \/etc\/systemd\/system\/policy-broker\.service && sudo systemctl daemon-reload/);
  // The servers reach the broker at its address= (the private one), not the ssh name.
  assert.equal(out.match(/\| POLICY_SERVER_POOL_BROKER=10\.0\.1\.10:2100\n/g)?.length, 2);
  assert.match(out, /\| POLICY_SERVER_POOL_IDS=100,300\n/);
  assert.match(out, /\| POLICY_SERVER_POOL_IDS=200,400\n/);
  assert.match(out, /\| POLICY_SERVER_POOL_PORT=7100\n/);
  assert.match(out, /\| POLICY_SERVER_POOL_LISTEN_HOST=0\.0\.0\.0\n/);
  assert.equal(out.match(/\| POLICY_SERVER_POOL_SECRET=<secret>\n/g)?.length, 2);
  assert.match(out, /\/etc\/systemd\/system\/policy-server-pool-111-100\.service/);
  assert.match(out, /\/etc\/systemd\/system\/policy-server-pool-222-200\.service/);
  // The client gets no secret, and no unit.
  assert.match(out, /\| POLICY_CLIENT_BROKER=10\.0\.1\.10:2100\n/);
  assert.doesNotMatch(out, /POLICY_CLIENT_SECRET|policy-client-[\d-]+\.service/);
  // Every host checks Node and installs the production dependencies.
  const targets = sshCommands(out).filter(([, cmd]) => cmd.includes('npm ci --omit=dev')).map(([target]) => target);
  assert.deepEqual(targets, ['ubuntu@broker.example.org', 'ubuntu@10.0.1.21', '10.0.1.22', 'admin@10.0.1.30']);
});

test('deploy.sh install refuses to run without a registration secret', async () => {
  const result = await deploy(['--dry-run', 'install', HOSTS], { POLICY_BROKER_REGISTRATION_SECRET: '' });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /registration secret/);
  const secretFile = path.join(dir, 'secret');
  writeFileSync(secretFile, `${SECRET}\n`);
  const withFile = await deploy(['--dry-run', '--secret-file', secretFile, 'install', HOSTS], { POLICY_BROKER_REGISTRATION_SECRET: '' });
  assert.equal(withFile.code, 0, withFile.stderr);
  assert.ok(!withFile.stdout.includes(SECRET));
});

test('deploy.sh --dry-run start and stop: the broker first and last, systemd units, each ready line awaited', async () => {
  const start = await deploy(['--dry-run', 'start', HOSTS]);
  assert.equal(start.code, 0, start.stderr);
  const commands = sshCommands(start.stdout);
  assert.deepEqual(
    commands.map(([target]) => target),
    ['ubuntu@broker.example.org', 'ubuntu@10.0.1.21', '10.0.1.22', 'admin@10.0.1.30'],
  );
  assert.match(commands[0]![1], /sudo systemctl enable policy-broker\.service && sudo systemctl restart policy-broker\.service/);
  assert.match(commands[0]![1], /journalctl -u policy-broker\.service --since @\$t .*"ready":true/);
  assert.match(commands[1]![1], /systemctl restart policy-server-pool-111-100\.service/);
  assert.match(commands[3]![1], /node --min-semi-space-size=16 dist\/client\/main\.js --json/);

  const stop = await deploy(['--dry-run', 'stop', HOSTS]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.deepEqual(
    sshCommands(stop.stdout).map(([target, cmd]) => `${target} ${/systemctl stop ([\w.-]+)/.exec(cmd)?.[1]}`),
    ['ubuntu@10.0.1.21 policy-server-pool-111-100.service', '10.0.1.22 policy-server-pool-222-200.service', 'ubuntu@broker.example.org policy-broker.service'],
  );
  assert.equal(existsSync(MARK), false, 'nothing was run');
});

test('deploy.sh --no-systemd: nohup in the background with pid and log files, environment files in the remote directory', async () => {
  const install = await deploy(['--dry-run', '--no-systemd', '--remote-dir', 'apps/pb', 'install', HOSTS]);
  assert.equal(install.code, 0, install.stderr);
  assert.doesNotMatch(install.stdout, /systemctl|sudo /);
  assert.match(install.stdout, /'cd apps\/pb && umask 077 && cat > run\/policy-broker\.env' < apps\/pb\/run\/policy-broker\.env/);

  const start = await deploy(['--dry-run', '--no-systemd', '--remote-dir', 'apps/pb', 'start', HOSTS]);
  assert.equal(start.code, 0, start.stderr);
  const [broker] = sshCommands(start.stdout);
  assert.match(broker![1], /^cd apps\/pb && /);
  assert.match(broker![1], /\. run\/policy-broker\.env; set \+a; exec nohup node --min-semi-space-size=16 dist\/broker\/main\.js >logs\/policy-broker\.log 2>&1 <\/dev\/null\) & echo \$! > run\/policy-broker\.pid/);
  assert.match(broker![1], /"ready":true/);

  const stop = await deploy(['--dry-run', '--no-systemd', 'stop', HOSTS]);
  assert.match(stop.stdout, /kill -TERM \$\(cat run\/policy-broker\.pid\)/);
  const status = await deploy(['--dry-run', '--no-systemd', 'status', HOSTS]);
  assert.equal(sshCommands(status.stdout).length, 3, 'the broker and two pools');
  assert.equal(existsSync(MARK), false, 'nothing was run');
});

test('deploy.sh: --only, --env by prefix, logs into a local folder', async () => {
  const only = await deploy(['--dry-run', '--only', 'server', '--env', 'POLICY_SERVER_POOL_DELAY=5', '--env', 'POLICY_BROKER_IDLE_TIMEOUT=60000', 'install', HOSTS]);
  assert.equal(only.code, 0, only.stderr);
  assert.deepEqual([...new Set(sshCommands(only.stdout).map(([target]) => target))], ['ubuntu@10.0.1.21', '10.0.1.22']);
  assert.equal(only.stdout.match(/\| POLICY_SERVER_POOL_DELAY=5\n/g)?.length, 2);
  assert.doesNotMatch(only.stdout, /POLICY_BROKER_IDLE_TIMEOUT/, 'a broker setting stays out of the pools');

  const logs = await deploy(['--dry-run', '--logs-dir', 'collected', '--lines', '50', 'logs', HOSTS]);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /'sudo journalctl -u policy-broker\.service -n 50 -o cat --no-pager' > collected\/broker\.example\.org\/policy-broker\.log/);
  assert.equal(existsSync(path.join(process.cwd(), 'collected')), false, 'a dry run creates no folder');
});

test('deploy.sh rejects a bad hosts file with the line that is wrong', async () => {
  const cases: Array<[string, RegExp]> = [
    ['broker a\nrouter b\n', /:2: unknown role 'router'/],
    ['server a policy=111 ids=100\n', /no broker line/],
    ['broker a\nbroker b\n', /more than one broker/],
    ['broker a\nserver b policy=111 ids=100\nserver c policy=222 ids=100\n', /server id 100 is used twice/],
    ['broker a\nserver b ids=100\n', /needs policy=N/],
    ['broker a\nserver b policy=111 ids=100 listen=$(reboot)\n', /bad setting/],
  ];
  for (const [text, message] of cases) {
    const file = path.join(dir, 'bad-hosts');
    writeFileSync(file, text);
    const result = await deploy(['--dry-run', 'status', file]);
    assert.equal(result.code, 1, text);
    assert.match(result.stderr, message, text);
  }
});

test('deploy.sh --tls-cert: used only with a broker that has TLS options, refused clearly otherwise', async () => {
  const cert = path.join(dir, 'broker.crt');
  const key = path.join(dir, 'broker.key');
  writeFileSync(cert, 'CERT');
  writeFileSync(key, 'KEY');
  const help = await run('broker', ['--help']);
  const result = await deploy(['--dry-run', '--tls-cert', cert, '--tls-key', key, 'install', HOSTS]);
  if (help.stdout.includes('--tls-cert')) {
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\| POLICY_BROKER_TLS_CERT=tls\/broker\.crt\n/);
  } else {
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no --tls-cert option yet/);
  }
});

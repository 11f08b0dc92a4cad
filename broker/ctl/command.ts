/**
 * `policy-broker ctl`: the runtime API (/_broker/api/, admin/runtime-api.ts) for shells and
 * labs. `servers`, `drain KEY`, `enable KEY`, `disable KEY`, `weight KEY N`, `reload`; the
 * broker from --admin URL (its admin prefix), the token from --token. Exit codes as the other
 * programs: 0 done, 1 the broker refused or could not be reached, 2 a usage error.
 */
import { Command } from 'commander';
import { envOption, integer } from '../support/cli.js';
// The client (and undici with it) is loaded when a ctl command runs, not by every broker start.
import type { RuntimeApiClient, ServerChange } from './api-client.js';
import { changedLine, serverTable } from './server-table.js';

const ENV = 'POLICY_CTL';
const DEFAULT_ADMIN = 'http://127.0.0.1:8080/_broker/';

interface CtlOptions {
  admin: string;
  token?: string;
  ca?: string;
  json?: boolean;
}

/** The `ctl` command, with its subcommands; errors of its own usage throw as commander's. */
export function ctlCommand(): Command {
  const ctl = new Command('ctl')
    .description('operate a running broker through its runtime API (/_broker/api/): servers, drain, enable, disable, weight, reload')
    .addOption(envOption(ENV, '--admin <url>', 'the broker\'s admin prefix (a URL with no path means /_broker/)').default(DEFAULT_ADMIN))
    .addOption(envOption(ENV, '--token <token>', 'the admin token (--admin-token, else --http-token, of the broker)'))
    .addOption(envOption(ENV, '--ca <file>', 'PEM CA of an https:// admin URL whose certificate Node\'s CAs do not trust'))
    .addOption(envOption(ENV, '--json', 'print the API\'s JSON answer instead of text'));
  // Usage errors throw to parseOrExit (one line, exit 2), in the subcommands too (they inherit
  // this); help asked for by a usage error still shows.
  ctl.exitOverride();
  ctl.configureOutput({ writeErr: (text) => (text.startsWith('error:') ? undefined : process.stderr.write(text)) });
  const run = (work: (api: RuntimeApiClient, json: boolean) => Promise<string>) => async () => {
    const options = ctl.opts<CtlOptions>();
    const { CtlError, RuntimeApiClient } = await import('./api-client.js');
    let api: RuntimeApiClient;
    try {
      api = new RuntimeApiClient({ admin: options.admin, token: options.token, ca: options.ca });
    } catch (err) {
      // A URL that does not parse, or a CA file that cannot be read.
      process.stderr.write(`policy-broker ctl: error: --admin/--ca: ${(err as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    try {
      process.stdout.write(await work(api, options.json === true));
    } catch (err) {
      if (!(err instanceof CtlError)) throw err;
      process.stderr.write(`policy-broker ctl: error: ${err.message}\n`);
      process.exitCode = 1;
    } finally {
      await api.close();
    }
  };
  const change = (key: string, body: ServerChange) =>
    run(async (api, json) => {
      const rows = await api.change(key, body);
      return json ? `${JSON.stringify({ changed: rows })}\n` : rows.map((row) => `${changedLine(row)}\n`).join('');
    });

  ctl
    .command('servers')
    .description('list every server: key, policy, state, admin state, weight, in flight, served')
    .action(run(async (api, json) => {
      const rows = await api.servers();
      return json ? `${JSON.stringify({ servers: rows })}\n` : serverTable(rows);
    }));
  ctl
    .command('drain <key>')
    .description('no new work for the server (a registered id or a static IP:PORT); what it has finishes')
    .action((key: string) => change(key, { state: 'drain' })());
  ctl
    .command('enable <key>')
    .description('put a drained or disabled server back in')
    .action((key: string) => change(key, { state: 'up' })());
  ctl
    .command('disable <key>')
    .description('take the server out at once; its packets in flight are re-routed')
    .action((key: string) => change(key, { state: 'disabled' })());
  ctl
    .command('weight')
    .description('set the server\'s weight: its share of its policy\'s work')
    .argument('<key>', 'a registered id or a static IP:PORT')
    .argument('<n>', 'the weight, 1-1000', integer(1, 1000))
    .action((key: string, n: number) => change(key, { weight: n })());
  ctl
    .command('reload')
    .description('read servers.conf again: added backends join, removed ones drain, a bad file changes nothing')
    .action(run(async (api, json) => {
      const r = await api.reload();
      return json ? `${JSON.stringify({ reloaded: r })}\n` : `reloaded: ${r.added} added, ${r.removed} removed, ${r.kept} kept, ${r.reweighted} reweighted\n`;
    }));
  return ctl;
}

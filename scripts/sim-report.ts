#!/usr/bin/env node
/**
 * The report step of scripts/multihost.sh: reads the manifest the script wrote, prints the
 * table, with --json also one JSON line last, and exits 1 when the run failed (anything lost,
 * an error answer, a reply that does not verify). Wiring only; the report is in scripts/lib/.
 * (npm run simulate builds its report in-process, from the same scripts/lib/sim-report.ts.)
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parseOrExit } from '../broker/support/cli.js';
import { parseLog, parseManifest } from './lib/manifest.js';
import { formatMultihostReport, multihostInput, multihostReport } from './lib/multihost-report.js';

/** A file's text, or '' when it cannot be read (a client that never started writes nothing). */
function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

const logEvents = (path: string) => parseLog(read(path));

const program = new Command('sim-report').description('Tables and verdicts for scripts/multihost.sh');

program
  .command('multihost')
  .argument('<manifest>', 'the manifest multihost.sh wrote')
  .option('--json', 'also print the report as one JSON line, last')
  .action((manifest: string, options: { json?: boolean }) => {
    const input = multihostInput(parseManifest(read(manifest)), read, logEvents);
    const report = multihostReport(input);
    process.stdout.write(formatMultihostReport(report, input));
    if (options.json === true) process.stdout.write(JSON.stringify({ multihost: true, ...report }) + '\n');
    process.exitCode = report.ok ? 0 : 1;
  });

await parseOrExit(program);

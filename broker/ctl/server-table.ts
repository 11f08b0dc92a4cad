/** The runtime API's server list as a table for people (`policy-broker ctl servers`). No I/O. */
import type { ServerRow } from '../admin/runtime-api.js';

const COLUMNS: Array<[string, (row: ServerRow) => string]> = [
  ['KEY', (r) => r.key],
  ['POLICY', (r) => String(r.policy)],
  ['SOURCE', (r) => r.source],
  ['ADDRESS', (r) => r.address],
  ['HTTP', (r) => r.httpAddress ?? '-'],
  ['STATE', (r) => r.state],
  ['ADMIN', (r) => r.admin],
  ['WEIGHT', (r) => String(r.weight)],
  ['INFLIGHT', (r) => String(r.inflight)],
  ['SERVED', (r) => String(r.served)],
];

/** One line per server, in columns, under a header line; sorted by policy, then key. */
export function serverTable(rows: readonly ServerRow[]): string {
  if (rows.length === 0) return 'no servers\n';
  const sorted = [...rows].sort((a, b) => a.policy - b.policy || a.key.localeCompare(b.key, 'en', { numeric: true }));
  const cells = [COLUMNS.map(([name]) => name), ...sorted.map((row) => COLUMNS.map(([, cell]) => cell(row)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells.map((line) => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** One line for a changed server. */
export function changedLine(row: ServerRow): string {
  return `server ${row.key} (policy ${row.policy}): ${row.admin === 'enabled' ? 'up' : row.admin}, weight ${row.weight}, state ${row.state}, ${row.inflight} in flight`;
}

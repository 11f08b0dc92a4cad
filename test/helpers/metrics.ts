/**
 * Reading the broker's /_broker/metrics in tests: the Prometheus text format parsed into
 * samples, looked up by name and labels (in any order).
 */
import { get } from './http.js';

export interface Scrape {
  /** The Content-Type the page was served with. */
  contentType: string;
  /** The value of a series; undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every series of a metric name, with its labels. */
  series(name: string): Array<{ labels: Record<string, string>; value: number }>;
  /** The names of the metrics declared by # TYPE lines, with their types. */
  types: Map<string, string>;
}

/** Scrapes http://127.0.0.1:<httpPort>/_broker/metrics and parses it; throws on a non-200 answer. */
export async function scrapeMetrics(httpPort: number, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await get(`http://127.0.0.1:${httpPort}/_broker/metrics`, headers);
  if (res.status !== 200) throw new Error(`metrics answered ${res.status}: ${res.body}`);
  return { ...parseMetrics(res.body), contentType: String(res.headers['content-type']) };
}

/** Parses the Prometheus text exposition format (what prom-client writes). */
export function parseMetrics(text: string): Omit<Scrape, 'contentType'> {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  const same = (a: Record<string, string>, b: Record<string, string>) =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);
  return {
    types,
    value: (name, labels = {}) => samples.find((s) => s.name === name && same(s.labels, labels))?.value,
    series: (name) => samples.filter((s) => s.name === name).map(({ labels, value }) => ({ labels, value })),
  };
}

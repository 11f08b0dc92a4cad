/**
 * How the broker's metrics are made (prom-client): each is read at scrape time from counters the
 * broker keeps anyway, reset and refilled by its reader, its series capped; the latency
 * histograms are the broker's own fixed-bucket counters, exported as Prometheus histograms.
 * Which metrics there are is metrics.ts's.
 */
import { Counter, Gauge, type Metric, type Registry } from 'prom-client';
import { LATENCY_BOUNDS_MS, type LatencyHistogram } from '../support/latency-histogram.js';

const PREFIX = 'policy_broker_';
/** The policy (and server) label of the counters of gone policies and servers past the cap (stats.ts). */
export const FORGOTTEN_LABEL = 'other';

export type Labels = Record<string, string>;

/**
 * Series one metric may have; the rest are summed into one with policy and server "other". The
 * tables behind them are bounded already (stats.ts); this caps a broker with very many live servers.
 */
export const MAX_SERIES_PER_METRIC = 2000;

function overflowLabels(labels: Labels): Labels {
  const out: Labels = { ...labels };
  if ('policy' in out) out.policy = FORGOTTEN_LABEL;
  if ('server' in out) out.server = FORGOTTEN_LABEL;
  return out;
}

/** Called with `emit(labels, value)` for each series of a metric, at scrape time. */
export type Reader = (emit: (labels: Labels, value: number) => void) => void;

export class ScrapeMetrics {
  constructor(private readonly registry: Registry) {}

  /** A counter whose series are read at scrape time. */
  counter(name: string, help: string, labelNames: string[], read: Reader): void {
    new Counter(this.readAtScrape(name, help, labelNames, read, (counter: Counter, labels, value) => counter.inc(labels, value)));
  }

  /** A gauge whose series are read at scrape time. */
  gauge(name: string, help: string, labelNames: string[], read: Reader): void {
    new Gauge(this.readAtScrape(name, help, labelNames, read, (gauge: Gauge, labels, value) => gauge.inc(labels, value)));
  }

  /** The configuration of a metric that is reset at each scrape and refilled by `read`, `put` storing each series. */
  private readAtScrape<M extends Counter | Gauge>(name: string, help: string, labelNames: string[], read: Reader, put: (metric: M, labels: Labels, value: number) => void) {
    return {
      name: PREFIX + name,
      help,
      labelNames,
      registers: [this.registry],
      collect(this: M): void {
        this.reset();
        let series = 0;
        read((labels, value) => put(this, ++series > MAX_SERIES_PER_METRIC ? overflowLabels(labels) : labels, value));
      },
    };
  }

  /** A histogram made of the broker's own LatencyHistograms (milliseconds), exported in seconds. */
  histogram(name: string, help: string, read: () => Array<{ labels: Labels; histogram: LatencyHistogram }>): void {
    const fullName = PREFIX + name;
    const bounds = LATENCY_BOUNDS_MS.map((ms) => String(ms / 1000));
    // prom-client's registry reads a metric through name, type and get(); its own Histogram
    // would hash the labels on every observation, which the packet path cannot afford.
    const metric = {
      name: fullName,
      help,
      type: 'histogram',
      aggregator: 'sum',
      reset(): void {},
      async get() {
        const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
        for (const { labels, histogram } of read()) {
          // A policy without a reply yet has no histogram worth its ~20 series (a flood of
          // registrations of new policies would otherwise multiply them).
          if (histogram.count === 0) continue;
          let cumulative = 0;
          for (let i = 0; i < bounds.length; i++) {
            cumulative += histogram.counts[i]!;
            values.push({ labels: { ...labels, le: bounds[i]! }, value: cumulative, metricName: `${fullName}_bucket` });
          }
          values.push({ labels: { ...labels, le: '+Inf' }, value: histogram.count, metricName: `${fullName}_bucket` });
          values.push({ labels, value: histogram.sumMs / 1000, metricName: `${fullName}_sum` });
          values.push({ labels, value: histogram.count, metricName: `${fullName}_count` });
        }
        return { name: fullName, help, type: 'histogram', aggregator: 'sum', values };
      },
    };
    this.registry.registerMetric(metric as unknown as Metric);
  }
}

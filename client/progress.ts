/**
 * The load's progress as a bar on stderr (cli-progress), for people at a terminal: by packets
 * in count mode, by time in duration mode.
 */
import cliProgress from 'cli-progress';
import type { LoadProgress } from './load.js';

export interface ProgressBar {
  update(progress: LoadProgress): void;
  stop(): void;
}

/** A bar sized for the run: `count` packets, or `durationMs` of time when there is no count. */
export function progressBar(stream: NodeJS.WriteStream, run: { count?: number; durationMs?: number }): ProgressBar {
  const byCount = run.count !== undefined;
  const total = byCount ? run.count! : Math.ceil(run.durationMs! / 100);
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `{bar} {percentage}% | sent {sent} | answered {answered} | failed {failed} | {rate}/s`,
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { sent: 0, answered: 0, failed: 0, rate: 0 });
  return {
    update(progress) {
      const done = progress.answered + progress.failed;
      const rate = progress.elapsedMs > 0 ? Math.round((progress.answered * 1000) / progress.elapsedMs) : 0;
      bar.update(byCount ? done : Math.min(total, Math.floor(progress.elapsedMs / 100)), { ...progress, rate });
    },
    stop() {
      bar.stop();
    },
  };
}

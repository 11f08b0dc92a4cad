/**
 * The change hints brokers publish on the registry's channel (redis-scripts.ts publishes each
 * in the script that made the write): fast news of another broker's write, which pub/sub may
 * lose, so the periodic resync heals what a lost one missed. A message that does not parse is
 * dropped: anything may publish on the channel.
 */

/** A change hint as published: k added (or, same generation, updated) / removed / draining, the id and generation. */
export interface Hint {
  k: 'a' | 'r' | 'd';
  id: number;
  g: number;
  /** Added: the entry JSON. */
  e?: string;
  d?: boolean;
  why?: string;
}

export function hint(h: Hint): string {
  return JSON.stringify(h);
}

/** The hint in `message`, or undefined when it is not one. */
export function parseHint(message: string): Hint | undefined {
  let h: Hint;
  try {
    h = JSON.parse(message) as Hint;
  } catch {
    return undefined;
  }
  if (h === null || typeof h !== 'object' || typeof h.id !== 'number' || typeof h.g !== 'number') return undefined;
  return h;
}

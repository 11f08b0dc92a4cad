/**
 * An operator's change to a registered server (store.ts AdminChange) applied to its entry: the
 * one rule both stores and the Redis view use, so that an entry reads the same everywhere.
 */
import type { AdminChange, ServerEntry } from './store.js';

/** `entry` with `change` applied; `enabled` is written as no mode (the default). */
export function withAdmin(entry: ServerEntry, change: AdminChange): ServerEntry {
  const { admin: _old, ...rest } = entry;
  const admin = change.mode ?? entry.admin;
  return {
    ...rest,
    ...(admin !== undefined && admin !== 'enabled' && { admin }),
    ...((change.weight ?? entry.weight) !== undefined && { weight: change.weight ?? entry.weight }),
  };
}

/** True when `a` and `b` differ in what an operator changes (admin mode, weight). */
export function adminDiffers(a: ServerEntry, b: ServerEntry): boolean {
  return (a.admin ?? 'enabled') !== (b.admin ?? 'enabled') || (a.weight ?? 1) !== (b.weight ?? 1);
}

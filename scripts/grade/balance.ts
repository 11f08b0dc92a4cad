/**
 * When a spread counts as balanced: every server got at least half of its fair share. Per-packet
 * (or per-request) round-robin and random both pass by a wide margin at the grader's counts;
 * sticking to one server per connection gives the others nothing and fails.
 */

/** The least each of `servers` must get out of `total`. */
export function balanceFloor(total: number, servers: number): number {
  return total / servers / 2;
}

/** Whether every count reaches the floor. */
export function isBalanced(counts: number[], total: number): boolean {
  const floor = balanceFloor(total, counts.length);
  return counts.every((n) => n >= floor);
}

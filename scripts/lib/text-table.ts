/**
 * Aligned text tables for terminals: columns of numbers (numbers, decimals like "2.71",
 * shares like "50.0%") right-aligned, everything else left-aligned; pass ids as strings.
 */

export type Cell = string | number;

/** The header, a rule, then the rows; columns two spaces apart, no trailing blanks. */
export function textTable(header: string[], rows: Cell[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => isNumeric(row[i])));
  const line = (cells: Cell[]) =>
    cells
      .map((cell, i) => (numeric[i] ? String(cell).padStart(widths[i]!) : String(cell).padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** "ABC 2, XYZ 1" or "none". */
export function formatCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts).filter(([, n]) => n > 0);
  return entries.length === 0 ? 'none' : entries.map(([key, n]) => `${key} ${n}`).join(', ');
}

/** 0.5123 → "51.2%". */
export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

function isNumeric(cell: Cell | undefined): boolean {
  return typeof cell === 'number' || cell === '' || /^\d+\.\d+$|^[\d.]+%$/.test(String(cell));
}

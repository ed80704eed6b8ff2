/** Renders rows as a left-aligned text table with the given columns as headers. */
export function formatTable<T extends object>(rows: readonly T[], columns: ReadonlyArray<readonly [keyof T & string, string]>): string {
  const cells = [columns.map(([, header]) => header), ...rows.map((r) => columns.map(([key]) => String(r[key])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells.map((line) => line.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

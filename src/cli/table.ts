// Plain-text layout for the CLI: columns padded to their widest cell and two spaces apart, numbers right-aligned,
// no trailing spaces. Cells are strings already: the caller decides how a value reads ('-' for an absent one).

/** Column is one column of a table: its header, how a row gives its cell, and its alignment (left by default). */
export interface Column<T> {
  header: string;
  cell: (row: T) => string;
  align?: 'left' | 'right';
}

const GAP = '  ';

/** renderTable lays rows out under the columns' headers; a table without rows is its header line alone. */
export function renderTable<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const lines = [columns.map((c) => c.header), ...rows.map((r) => columns.map((c) => c.cell(r)))];
  const widths = columns.map((_, i) => Math.max(...lines.map((cells) => (cells[i] ?? '').length)));
  return lines
    .map((cells) =>
      cells
        .map((cell, i) => (columns[i]?.align === 'right' ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
        .join(GAP)
        .trimEnd(),
    )
    .join('\n');
}

/** renderFields lays out label/value pairs one a line, the values aligned after the longest label. */
export function renderFields(fields: readonly (readonly [label: string, value: string])[]): string {
  const width = Math.max(0, ...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${label.padEnd(width)}${GAP}${value}`.trimEnd()).join('\n');
}

import type { Summary } from './stats.js';

/** One line of the printed table: a median with its spread, and a target where the brief sets one. */
export interface Row {
  section: string;
  figure: string;
  unit: string;
  value: Summary;
  target?: { op: '>=' | '<'; value: number };
}

export function verdict(row: Row): string {
  if (!row.target || !Number.isFinite(row.value.median)) return '';
  const met = row.target.op === '>=' ? row.value.median >= row.target.value : row.value.median < row.target.value;
  return `${met ? 'MET' : 'MISSED'} (${row.target.op} ${row.target.value})`;
}

function format(value: number): string {
  if (!Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(abs >= 1 ? 2 : 3);
}

export function renderTable(rows: readonly Row[]): string {
  const header = ['section', 'figure', 'median', 'min', 'max', 'unit', 'runs', 'target'];
  const body = rows.map((r) => [r.section, r.figure, format(r.value.median), format(r.value.min), format(r.value.max), r.unit, String(r.value.runs), verdict(r)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => (line[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i >= 2 && i <= 4 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

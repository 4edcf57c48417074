/** A goal from the performance issue: a ratio to the anchor, or an absolute ceiling. */
export type Goal =
  | { kind: 'ratio'; max: number }
  | { kind: 'absolute'; below: number };

export type Unit = 's' | 'bytes';

export interface Row {
  id: string;
  step: string;
  unit: Unit;
  /** ocipush's median (for memory: the peak over all runs); null when not measured. */
  ocipush: number | null;
  anchorName: string | null;
  anchor: number | null;
  /** ocipush / anchor. */
  ratio: number | null;
  /**
   * For time rows: the same ratio of CPU time (user + system, medians), which other work on the
   * machine barely moves. Informative only: the goals are about wall time.
   */
  cpuRatio: number | null;
  goal: Goal | null;
  /** 'n/a' when there is no goal or no ocipush figure. */
  result: 'pass' | 'miss' | 'n/a';
}

export function makeRow(r: {
  id: string; step: string; unit: Unit; ocipush: number | null; anchorName?: string | null; anchor?: number | null; goal?: Goal | null;
  cpu?: { ocipush: number | null; anchor: number | null };
}): Row {
  const anchor = r.anchor ?? null;
  const ratio = r.ocipush !== null && anchor !== null && anchor > 0 ? r.ocipush / anchor : null;
  const goal = r.goal ?? null;
  let result: Row['result'] = 'n/a';
  if (goal?.kind === 'ratio' && ratio !== null) result = ratio <= goal.max ? 'pass' : 'miss';
  if (goal?.kind === 'absolute' && r.ocipush !== null) result = r.ocipush < goal.below ? 'pass' : 'miss';
  const cpuRatio = r.cpu?.ocipush != null && r.cpu.anchor != null && r.cpu.anchor > 0 ? r.cpu.ocipush / r.cpu.anchor : null;
  return { id: r.id, step: r.step, unit: r.unit, ocipush: r.ocipush, anchorName: r.anchorName ?? null, anchor, ratio, goal, result, cpuRatio };
}

export function formatValue(value: number | null, unit: Unit): string {
  if (value === null) return '—';
  if (unit === 's') return value < 1 ? `${(value * 1000).toFixed(0)} ms` : `${value.toFixed(2)} s`;
  return `${(value / 1e6).toFixed(1)} MB`;
}

export function formatGoal(goal: Goal | null, unit: Unit): string {
  if (!goal) return '—';
  if (goal.kind === 'ratio') return `≤ ${goal.max.toFixed(2)}×`;
  return `< ${unit === 's' ? `${goal.below} s` : formatValue(goal.below, unit).replace('.0 MB', ' MB')}`;
}

/** A Markdown table, padded so it also reads well in a terminal. */
export function renderTable(rows: readonly Row[]): string {
  const header = ['step', 'ocipush median', 'anchor', 'anchor median', 'ratio', 'goal', 'result', 'cpu ratio'];
  const cells = rows.map((r) => [
    r.step,
    formatValue(r.ocipush, r.unit),
    // A pipe inside a cell would end it in Markdown.
    (r.anchorName ?? '—').replace(/\|/g, '\\|'),
    formatValue(r.anchor, r.unit),
    r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
    formatGoal(r.goal, r.unit),
    r.result === 'n/a' ? '—' : r.result,
    r.cpuRatio === null ? '—' : `${r.cpuRatio.toFixed(2)}×`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((s, i) => s.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

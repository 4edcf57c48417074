import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * Where a `--cpu-prof` profile's time went, as text: the self and inclusive time of each function
 * (optionally within a window of the run: the tail after a layer, the start-up before the first
 * request), the run in slices with the busiest functions of each, and the stacks that lead to one
 * function. Every figure in docs/benchmarks.md that names a function's milliseconds came from
 * this.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/p bin/ocipush.js build DIR --sbom …
 *   node dist/scripts/bench/cpuprofile.js /tmp/p/CPU….cpuprofile [--from 4.0 --to 4.4]
 *     [--slices 250] [--callers update] [--top 25]
 *
 * A sample's time is the gap to the next sample, as Chrome's DevTools count it.
 */

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
export interface CpuProfile { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] }

export interface Timed { name: string; ms: number }

/** One sample: when it was taken (ms since the profile started), how long it stands for, and its stack (innermost first). */
interface Sample { at: number; ms: number; stack: CallFrame[] }

export function frameName(f: CallFrame): string {
  const file = f.url ? f.url.split('/').slice(-2).join('/') : '';
  return `${f.functionName || '(anonymous)'}${file ? ` ${file}:${f.lineNumber + 1}` : ''}`;
}

function samples(profile: CpuProfile): Sample[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const out: Sample[] = [];
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]! / 1000;
    const stack: CallFrame[] = [];
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) stack.push(byId.get(id)!.callFrame);
    out.push({ at, ms: (profile.timeDeltas[i + 1] ?? 0) / 1000, stack });
  }
  return out;
}

function ranked(totals: Map<string, number>, top: number): Timed[] {
  return [...totals].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms || (a.name < b.name ? -1 : 1)).slice(0, top);
}

/** Self and inclusive time per function, for the samples taken from `from` to `to` ms into the run. */
export function summarize(profile: CpuProfile, options: { from?: number; to?: number; top?: number } = {}): { self: Timed[]; inclusive: Timed[]; total: number } {
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (const s of samples(profile)) {
    if (s.at < (options.from ?? -Infinity) || s.at > (options.to ?? Infinity)) continue;
    total += s.ms;
    const own = frameName(s.stack[0]!);
    self.set(own, (self.get(own) ?? 0) + s.ms);
    // A recursive function counts once per sample.
    for (const name of new Set(s.stack.map(frameName))) inclusive.set(name, (inclusive.get(name) ?? 0) + s.ms);
  }
  return { self: ranked(self, options.top ?? 25), inclusive: ranked(inclusive, options.top ?? 25), total };
}

/** The run in slices of `ms`: how busy the thread was (not `(idle)`) and its busiest functions in each. */
export function slices(profile: CpuProfile, ms: number, top = 4): { from: number; busy: number; functions: Timed[] }[] {
  const buckets = new Map<number, Map<string, number>>();
  for (const s of samples(profile)) {
    const k = Math.floor(s.at / ms);
    const m = buckets.get(k) ?? new Map<string, number>();
    buckets.set(k, m);
    const own = frameName(s.stack[0]!);
    m.set(own, (m.get(own) ?? 0) + s.ms);
  }
  return [...buckets].sort((a, b) => a[0] - b[0]).map(([k, m]) => {
    const sum = [...m.values()].reduce((a, b) => a + b, 0);
    const idle = [...m].filter(([name]) => name.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
    return { from: k * ms, busy: sum > 0 ? 1 - idle / sum : 0, functions: ranked(new Map([...m].filter(([name]) => !name.startsWith('(idle)'))), top) };
  });
}

/** The stacks (innermost `depth` frames, from the function named `fn` outwards) under which `fn` ran, by time. */
export function callers(profile: CpuProfile, fn: string, depth = 8, top = 10): Timed[] {
  const totals = new Map<string, number>();
  for (const s of samples(profile)) {
    const at = s.stack.findIndex((f) => f.functionName === fn);
    if (at < 0) continue;
    const key = s.stack.slice(at, at + depth).map(frameName).join(' < ');
    totals.set(key, (totals.get(key) ?? 0) + s.ms);
  }
  return ranked(totals, top);
}

function main(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      from: { type: 'string' }, to: { type: 'string' }, slices: { type: 'string' },
      callers: { type: 'string' }, top: { type: 'string', default: '25' },
    },
  });
  if (positionals.length !== 1) {
    process.stderr.write('usage: cpuprofile.js PROFILE [--from S] [--to S] [--slices MS] [--callers FUNCTION] [--top N]\n');
    return 2;
  }
  const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as CpuProfile;
  const top = Number(values.top);
  const line = (t: Timed) => `${t.ms.toFixed(1).padStart(9)} ms  ${t.name}`;
  if (values.callers) {
    for (const t of callers(profile, values.callers, 8, top)) process.stdout.write(`${line(t)}\n`);
    return 0;
  }
  if (values.slices) {
    for (const s of slices(profile, Number(values.slices))) {
      process.stdout.write(`${(s.from / 1000).toFixed(2).padStart(7)} s  busy ${(s.busy * 100).toFixed(0).padStart(3)} %  ${s.functions.map((f) => `${f.name} ${f.ms.toFixed(0)}`).join(' | ')}\n`);
    }
    return 0;
  }
  const s = summarize(profile, {
    ...(values.from !== undefined ? { from: Number(values.from) * 1000 } : {}),
    ...(values.to !== undefined ? { to: Number(values.to) * 1000 } : {}),
    top,
  });
  process.stdout.write(`${s.total.toFixed(1)} ms sampled\nself:\n${s.self.map(line).join('\n')}\ninclusive:\n${s.inclusive.map(line).join('\n')}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main(process.argv.slice(2));

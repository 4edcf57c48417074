import { Session } from 'node:inspector/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { frameName } from './cpuprofile.js';

/**
 * Which code allocates, and how much, while an ocipush command runs: V8's sampling heap profiler
 * over the whole run, counting the objects the collector has freed since (a heap snapshot only
 * shows what is still alive, and a build's garbage is what its collections cost). With
 * `--promoted`, only what outlived a young-generation collection: what the collector had to copy,
 * and what then stays in the old generation, pinning any buffer it holds, until a full
 * collection (the growth of peak RSS with the tree). The tar header and cache key figures of
 * docs/benchmarks.md came from this.
 *
 *   node dist/scripts/bench/allocations.js [--promoted] [--top 25] [--interval BYTES] -- build DIR --layout L …
 *
 * The command runs in this process, with the CLI's V8 settings (cli/runtime-flags.js); a V8
 * builtin or Node internal is named with the first frame of ocipush (or of the caller) that
 * called it.
 */

interface CallFrame { functionName: string; url: string; lineNumber: number }
export interface HeapProfileNode { callFrame: CallFrame; selfSize: number; children: HeapProfileNode[] }
export interface SamplingHeapProfile { head: HeapProfileNode }

export interface Allocated { name: string; bytes: number }

/** Bytes allocated per site, largest first. */
export function allocationSites(profile: SamplingHeapProfile, top = 25): Allocated[] {
  const totals = new Map<string, number>();
  const visit = (node: HeapProfileNode, caller: string | undefined): void => {
    const own = frameName(node.callFrame);
    const internal = node.callFrame.url === '' || node.callFrame.url.startsWith('node:');
    const name = internal && caller ? `${own} < ${caller}` : own;
    if (node.selfSize > 0) totals.set(name, (totals.get(name) ?? 0) + node.selfSize);
    // Inside a builtin or Node's own code, the frame that explains it is still the one outside.
    const next = internal && caller ? caller : own;
    for (const child of node.children) visit(child, node.callFrame.functionName === '(root)' ? undefined : next);
  };
  visit(profile.head, undefined);
  return [...totals].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, top);
}

async function main(argv: string[]): Promise<number> {
  const split = argv.indexOf('--');
  const { values } = parseArgs({
    args: split < 0 ? argv : argv.slice(0, split),
    options: { promoted: { type: 'boolean', default: false }, top: { type: 'string', default: '25' }, interval: { type: 'string', default: '4096' } },
  });
  const command = split < 0 ? [] : argv.slice(split + 1);
  if (command.length === 0) {
    process.stderr.write('usage: allocations.js [--promoted] [--top N] [--interval BYTES] -- OCIPUSH-ARGS…\n');
    return 2;
  }
  await import(new URL('../../src/cli/runtime-flags.js', import.meta.url).href);
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: Number(values.interval),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: !values.promoted,
  });
  const { main: ocipush } = await import(new URL('../../src/cli/main.js', import.meta.url).href) as { main: (args: string[]) => Promise<number> };
  const code = await ocipush(command);
  const { profile } = await session.post('HeapProfiler.stopSampling') as { profile: SamplingHeapProfile };
  session.disconnect();
  const sites = allocationSites(profile, Number(values.top));
  const total = (function sum(n: HeapProfileNode): number { return n.selfSize + n.children.reduce((a, c) => a + sum(c), 0); })(profile.head);
  // On stderr, as the command's own progress: its stdout (--json) stays parseable.
  process.stderr.write(`${(total / 1048576).toFixed(1)} MB sampled${values.promoted ? ' (outlived a young-generation collection)' : ''}\n`);
  for (const s of sites) process.stderr.write(`${(s.bytes / 1048576).toFixed(1).padStart(8)} MB  ${s.name}\n`);
  return code;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main(process.argv.slice(2));

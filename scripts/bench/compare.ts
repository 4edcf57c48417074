import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRegistry } from '../../test/support/registry.js';
import { median } from './measure.js';

/**
 * Short commands side by side, for before/after figures on a shared machine: each `label=command`
 * runs once per round, in an order that rotates every round, under `perf stat` (CPU time of all
 * threads, `task-clock`, which other work on the machine barely moves; and wall time). With
 * --fresh-registry each run gets a registry of its own, its `host:port` put where the command says
 * REGISTRY (a cold push). Prints medians.
 *
 *   node dist/scripts/bench/compare.js --runs 11 \
 *     'ocipush=node bin/ocipush.js push 127.0.0.1:5000/app:1 --layout L -q' \
 *     'skopeo=skopeo copy -q --dest-tls-verify=false oci:L:latest docker://127.0.0.1:5000/s/app:1'
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '11' }, 'fresh-registry': { type: 'boolean', default: false } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || positionals.length === 0) {
  process.stderr.write('usage: compare.js [--runs N] [--fresh-registry] LABEL=COMMAND ...\n');
  process.exit(2);
}
const commands = positionals.map((p) => {
  const eq = p.indexOf('=');
  if (eq <= 0) throw new Error(`"${p}": expected LABEL=COMMAND`);
  return { label: p.slice(0, eq), command: p.slice(eq + 1), wall: [] as number[], cpu: [] as number[] };
});

const errFile = join(tmpdir(), `ocipush-compare-${process.pid}.err`);
for (let round = 0; round < runs; round++) {
  for (let k = 0; k < commands.length; k++) {
    const c = commands[(k + round) % commands.length]!;
    const registry = values['fresh-registry'] ? await startRegistry() : undefined;
    try {
      const command = registry ? c.command.replaceAll('REGISTRY', registry.host) : c.command;
      const r = spawnSync('perf', ['stat', '-e', 'task-clock', 'bash', '-c', `exec ${command} >/dev/null 2>"$0"`, errFile], { encoding: 'utf8' });
      const cpu = /([\d.,]+)\s+msec task-clock/.exec(r.stderr ?? '');
      const wall = /([\d.]+) seconds time elapsed/.exec(r.stderr ?? '');
      if (r.status !== 0 || !cpu || !wall) {
        const detail = r.error ? `perf: ${r.error.message} (apt-get install linux-perf)` : readFileSync(errFile, 'utf8').trim().split('\n').slice(-6).join('\n');
        throw new Error(`${c.label} failed: ${command}\n${detail}`);
      }
      c.cpu.push(Number(cpu[1]!.replace(/,/g, '')));
      c.wall.push(Number(wall[1]) * 1000);
    } finally {
      await registry?.stop();
    }
  }
}
rmSync(errFile, { force: true });
for (const c of commands) {
  process.stdout.write(`${c.label.padEnd(32)} cpu ${median(c.cpu)!.toFixed(1).padStart(7)} ms   wall ${median(c.wall)!.toFixed(1).padStart(7)} ms\n`);
}

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One timed run of a command. */
export interface Measured {
  seconds: number;
  /** Peak resident set size of the command, when asked for and measurable. */
  maxRssBytes: number | null;
  /**
   * User + system CPU seconds (GNU time only). Unlike wall time it barely moves when other work
   * shares the machine, so it still compares tools on a busy one.
   */
  cpuSeconds: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Measure peak RSS and CPU time too. */
  usage?: boolean;
  /** Names the step in an error message. */
  label: string;
}

const GNU_TIME = '/usr/bin/time';

/**
 * How peak RSS is measured: GNU time (`apt-get install time`) reads the kernel's own maximum
 * from wait4(), exact for any program; without it the bench polls /proc/<pid>/status VmHWM,
 * which can miss a peak in the last poll interval. OCIPUSH_BENCH_RSS=proc forces the fallback.
 */
export const rssMethod: 'gnu-time' | 'proc-vmhwm' =
  existsSync(GNU_TIME) && process.env.OCIPUSH_BENCH_RSS !== 'proc' ? 'gnu-time' : 'proc-vmhwm';

let sequence = 0;

/**
 * Runs a command to completion and times it with the monotonic clock. A non-zero exit throws,
 * naming the step and quoting the end of its stderr: a benchmark of a failed run is no figure.
 */
export async function measure(cmd: string, args: string[], options: RunOptions): Promise<Measured> {
  const usageFile = options.usage && rssMethod === 'gnu-time' ? join(tmpdir(), `ocipush-bench-usage-${process.pid}-${++sequence}`) : undefined;
  const [file, argv] = usageFile ? [GNU_TIME, ['-f', 'usage %M %U %S', '-o', usageFile, cmd, ...args]] : [cmd, args];
  const started = process.hrtime.bigint();
  const child = spawn(file, argv, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => stdout.push(b));
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  let polledHwm = 0;
  const poller = options.usage && !usageFile && child.pid
    ? setInterval(() => { polledHwm = Math.max(polledHwm, readVmHwm(child.pid!)); }, 20)
    : undefined;
  const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`${options.label}: cannot run ${cmd}: ${err.message}`)));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (poller) clearInterval(poller);
  const out = Buffer.concat(stdout).toString('utf8');
  const err = Buffer.concat(stderr).toString('utf8');
  let maxRssBytes: number | null = null;
  let cpuSeconds: number | null = null;
  if (usageFile) {
    try {
      ({ maxRssBytes, cpuSeconds } = parseUsageFile(readFileSync(usageFile, 'utf8')));
    } finally {
      rmSync(usageFile, { force: true });
    }
  } else if (options.usage) {
    maxRssBytes = polledHwm > 0 ? polledHwm : null;
  }
  if (status.code !== 0) {
    const tail = err.trim().split('\n').slice(-8).join('\n') || out.trim().split('\n').slice(-8).join('\n');
    throw new Error(`${options.label} failed (${status.signal ?? `exit ${status.code}`}): ${cmd} ${args.join(' ')}\n${tail}`);
  }
  return { seconds, maxRssBytes, cpuSeconds, stdout: out, stderr: err };
}

/** GNU time may write "Command exited with non-zero status N" before our line. */
function parseUsageFile(text: string): { maxRssBytes: number | null; cpuSeconds: number | null } {
  const m = /^usage (\d+) ([\d.]+) ([\d.]+)$/m.exec(text);
  if (!m) return { maxRssBytes: null, cpuSeconds: null };
  // GNU time prints hundredths; rounding keeps float noise (7.630000000000001) out of the JSON.
  return { maxRssBytes: Number(m[1]) * 1024, cpuSeconds: Math.round((Number(m[2]) + Number(m[3])) * 100) / 100 };
}

function readVmHwm(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // exited between polls
  }
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

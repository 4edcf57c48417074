import { Worker } from 'node:worker_threads';
import { reapplyProcessFlags } from '../../runtime-flags.js';

/**
 * The parent's node flags for a worker, minus those a worker refuses: `--input-type` (of
 * `node --input-type=module -e …`) makes every worker fail with ERR_INPUT_TYPE_NOT_ALLOWED.
 */
export function workerExecArgv(): string[] {
  return process.execArgv.filter((arg, i, all) => !arg.startsWith('--input-type') && all[i - 1] !== '--input-type');
}

/**
 * A worker with the parent's flags where it accepts them. Per-process V8 flags such as
 * `--max-old-space-size` make the constructor throw ERR_WORKER_INVALID_EXEC_ARGV; such a worker
 * starts with none of the flags instead (its heap limits are the process's anyway).
 */
export function startWorker(url: URL): Worker {
  const worker = withParentFlags(url);
  // Node resets V8's flags as a worker starts: the process's own choices are made again.
  worker.once('online', reapplyProcessFlags);
  return worker;
}

function withParentFlags(url: URL): Worker {
  try {
    return new Worker(url, { execArgv: workerExecArgv() });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
    return new Worker(url, { execArgv: [] });
  }
}

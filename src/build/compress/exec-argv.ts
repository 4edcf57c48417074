/**
 * The parent's node flags for a worker, minus those a worker refuses: `--input-type` (of
 * `node --input-type=module -e …`) makes every worker fail with ERR_INPUT_TYPE_NOT_ALLOWED.
 */
export function workerExecArgv(): string[] {
  return process.execArgv.filter((arg, i, all) => !arg.startsWith('--input-type') && all[i - 1] !== '--input-type');
}

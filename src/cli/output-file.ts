import { usageError } from './command.js';

/**
 * `-o ""` (a script's unset "$OUT"): blob wrote to stdout, rootfs and export said "-o : is a
 * directory", artifact get "cannot create : no such file". One line for all of them, before any work.
 */
export function refuseEmptyOutput(output: string | undefined, what: 'a file' | 'a directory'): void {
  if (output === '') throw usageError(`-o "": name ${what}, or - for stdout`);
}

/**
 * Whether `-o` sends the bytes to stdout: none, `-`, or another name of it (/dev/stdout,
 * /dev/fd/1: archive/sink.ts isStdout). Those bytes are then all stdout may carry, so --json is
 * refused (`carried` names them), and so is a terminal where `binary` names what would reach it.
 */
export async function writesToStdout(output: string | undefined, json: boolean, carried: string, binary?: string): Promise<boolean> {
  const onStdout = output === undefined || output === '-' || await (await import('../archive/sink.js')).isStdout(output);
  if (onStdout && binary && process.stdout.isTTY) throw usageError(`refusing to write ${binary} to a terminal: name a file with -o FILE, or pipe the output`);
  if (onStdout && json) throw usageError(`--json needs -o FILE: stdout carries ${carried}`);
  return onStdout;
}

/** A file the command will write at its end: its directory must exist and take writes, and it must not be a directory. */
export async function checkWritableFile(path: string, flag: string): Promise<void> {
  const { access, stat } = await import('node:fs/promises');
  const { constants } = await import('node:fs');
  const { dirname, resolve } = await import('node:path');
  if (path === '') throw usageError(`--${flag}: name a file`);
  const dir = dirname(resolve(path));
  const target = await stat(path).catch(() => undefined);
  if (target?.isDirectory()) throw usageError(`--${flag} ${path}: is a directory`);
  const parent = await stat(dir).catch(() => undefined);
  if (!parent) throw usageError(`--${flag} ${path}: directory ${dir} does not exist`);
  if (!parent.isDirectory()) throw usageError(`--${flag} ${path}: ${dir} is not a directory`);
  try {
    await access(target ? path : dir, constants.W_OK);
  } catch {
    throw usageError(`--${flag} ${path}: ${target ? 'the file' : `directory ${dir}`} is not writable`);
  }
}

import type { ArgumentsCamelCase } from 'yargs';
import { isOcipushError } from '../errors.js';
import type { CliCommand } from './command.js';
import { Output } from './output.js';
import { VERSION } from '../version.js';

/**
 * Runs the CLI and resolves to the exit code; one line on stderr for any failure.
 *
 * A command line that names a command in the plain forms people type (`ocipush push REF --tag T
 * -q`) is parsed without yargs, loading only that command's module: yargs and the whole command
 * tree are about 100 ms of start-up. Everything else — `--help`, a mistake, an unusual form — goes
 * to yargs, so help and error messages are yargs' as ever (src/cli/fast-args.ts).
 */
export async function main(args: string[]): Promise<number> {
  if (args.length === 1 && args[0] === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  let out = new Output();
  const runCommand = async (cmd: CliCommand<any>, argv: ArgumentsCamelCase<Record<string, unknown>>): Promise<number> => {
    out = new Output({ json: argv.json as boolean, quiet: argv.quiet as boolean });
    const code = await cmd.run(argv, out);
    return typeof code === 'number' ? code : 0;
  };
  try {
    const { fastInvocation } = await import('./fast-args.js');
    const fast = await fastInvocation(args);
    if (fast) return await runCommand(fast.command, fast.argv);
    const [{ parseWithYargs }, { loadCommands }] = await Promise.all([import('./yargs-cli.js'), import('./commands.js')]);
    return await parseWithYargs(args, await loadCommands(), runCommand);
  } catch (err) {
    return report(err, out);
  }
}

function report(err: unknown, out: Output): number {
  if (isOcipushError(err)) {
    out.error(err.message);
    if (out.json) out.writeJson({ error: { code: err.code, message: err.message } });
    return err.code === 'EUSAGE' ? 2 : err.code === 'EABORTED' ? 130 : 1;
  }
  const e = err as Error & { usage?: boolean };
  if (e?.usage) {
    out.error(`${e.message} (see ocipush --help)`);
    return 2;
  }
  out.error(`internal error: ${e?.stack ?? String(err)}`);
  return 70;
}

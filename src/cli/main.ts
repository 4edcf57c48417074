import type { ArgumentsCamelCase } from 'yargs';
import { isOcipushError, systemReason } from '../errors.js';
import type { CliCommand } from './command.js';
import { Output, onInterrupt, oneLine } from './output.js';
import { redact } from '../redact.js';
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
  // Usage errors found before a command runs still answer in JSON when --json was asked for.
  let out = new Output({ json: wantsJson(args) });
  quietOnClosedStdout();
  const runCommand = async (cmd: CliCommand<any>, argv: ArgumentsCamelCase<Record<string, unknown>>): Promise<number> => {
    out = new Output({ json: argv.json as boolean, quiet: argv.quiet as boolean });
    // Every command ends on Ctrl-C or SIGTERM with its status, one line and (--json) the error
    // document; push, pull, build … say more of what they leave (onInterrupt replaces this).
    await onInterrupt(out, commandLabel(cmd, argv));
    const code = await cmd.run(argv, out);
    return typeof code === 'number' ? code : 0;
  };
  try {
    const { fastInvocation } = await import('./fast-args.js');
    const fast = await fastInvocation(args);
    if (fast) return await runCommand(fast.command, fast.argv);
    // A line the fast parser declined may hold a mistake: name it before yargs misreads it
    // (an unknown option swallowing the reference after it, a two-line "Invalid values").
    const { checkArgs } = await import('./argv-check.js');
    const checked = await checkArgs(args);
    const [{ parseWithYargs }, { loadCommands }] = await Promise.all([import('./yargs-cli.js'), import('./commands.js')]);
    return await parseWithYargs(checked, await loadCommands(), runCommand);
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
  const e = err as Error & { usage?: boolean; code?: string };
  if (e?.usage) {
    const message = `${oneLine(e.message)} (see ocipush --help)`;
    out.error(message);
    if (out.json) out.writeJson({ error: { code: 'EUSAGE', message } });
    return 2;
  }
  // stdout closed by its reader (ocipush export | head): end quietly, as a Unix tool killed by SIGPIPE.
  if (e?.code === 'EPIPE') return 141;
  // A defect: its stack as it is (secrets redacted), for the bug report.
  out.clearLive();
  process.stderr.write(`ocipush: internal error: ${redact(e?.stack ?? String(err))}\n`);
  return 70;
}

/** `mutate`, `index create`: the command as the interrupted line names it. */
function commandLabel(cmd: CliCommand<any>, argv: Record<string, unknown>): string {
  const name = [cmd.command].flat()[0]!.split(' ')[0]!;
  return typeof argv.action === 'string' ? `${name} ${argv.action}` : name;
}

function wantsJson(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--json' || a === '--json=true');
}

/** A reader that stops reading (`| head`) ends the process quietly with SIGPIPE's status. */
function quietOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(141);
    // stdout redirected to a file on a full disk (export > image.tar): one line, not a stack trace.
    process.stderr.write(`ocipush: cannot write to stdout: ${systemReason(err)}\n`);
    process.exit(1);
  });
}

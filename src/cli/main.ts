import yargs from 'yargs';
import { isOcipushError } from '../errors.js';
import type { CliCommand } from './command.js';
import { Output } from './output.js';
import { commands } from './commands.js';
import { VERSION } from '../version.js';

/** Runs the CLI and resolves to the exit code; one line on stderr for any failure. */
export async function main(args: string[]): Promise<number> {
  let exitCode = 0;
  let out = new Output();
  const parser = yargs(args)
    .scriptName('ocipush')
    .usage('$0 <command> [options]\n\nBuild OCI images without a Docker daemon and push them to any registry.')
    .option('json', { type: 'boolean', describe: 'Machine-readable output on stdout', global: true })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Print nothing but errors', global: true })
    .version(VERSION)
    .help()
    .alias('help', 'h')
    .strict()
    .demandCommand(1, 'name a command: ocipush --help lists them')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw Object.assign(new Error(msg), { usage: true });
    });
  skipHelpRendering(parser);
  for (const cmd of commands as CliCommand<any>[]) {
    parser.command(cmd.command, cmd.describe, cmd.builder, async (argv) => {
      out = new Output({ json: argv.json as boolean, quiet: argv.quiet as boolean });
      const code = await cmd.run(argv, out);
      exitCode = typeof code === 'number' ? code : 0;
    });
  }
  try {
    await parser.parseAsync();
    return exitCode;
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

interface YargsInternals {
  getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } };
}

/**
 * yargs renders the whole help text before it runs any command, in case the command asks for it
 * (none of ours does; --help is rendered on its own). Measuring every line's width is 40 ms of
 * every run. If a later yargs moves this internal, nothing breaks: the help is rendered as before.
 */
function skipHelpRendering(parser: unknown): void {
  const usage = (parser as YargsInternals).getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

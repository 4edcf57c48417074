import yargs, { type ArgumentsCamelCase } from 'yargs';
import type { CliCommand } from './command.js';
import { GLOBAL_OPTIONS } from './command.js';
import { VERSION } from '../version.js';

/**
 * The whole CLI through yargs: `--help`, `--version`, usage errors, and every command line the
 * fast parser (fast-args.ts) leaves to it. Resolves to what `onCommand` returned, or 0 when no
 * command ran (help, version).
 */
export async function parseWithYargs(
  args: string[],
  commands: CliCommand<any>[],
  onCommand: (command: CliCommand<any>, argv: ArgumentsCamelCase<Record<string, unknown>>) => Promise<number>,
): Promise<number> {
  let exitCode = 0;
  const parser = yargs(args)
    .scriptName('ocipush')
    .usage('$0 <command> [options]\n\nBuild OCI images without a Docker daemon and push them to any registry.')
    // A newcomer's next question after the list of commands (shown here only, not under each command's help).
    .epilogue('ocipush help COMMAND (or ocipush COMMAND --help) shows its options.\nFirst run: ocipush build ./rootfs, then ocipush push localhost:5000/app:1 (README: Quick start).');
  for (const [name, option] of Object.entries(GLOBAL_OPTIONS)) parser.option(name, { ...option, global: true });
  parser
    .version(VERSION)
    .help()
    .alias('help', 'h')
    .strict()
    // A repeatable option takes one value per use, as docker's, crane's and skopeo's do:
    // `build -e A=1 ./rootfs` is one variable and a rootfs (yargs' default gave ./rootfs to -e).
    .parserConfiguration({ 'greedy-arrays': false })
    .demandCommand(1, 'name a command')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw Object.assign(new Error(msg), { usage: true });
    });
  // yargs reads a flag's value that is not true or false (`--dry-run=yes`, `=1`) as false: a gc
  // asked for a dry run would remove blobs. Such a value is a usage error. (Go's flags, crane's
  // and skopeo's, also read 1/0 and t/f; refused here rather than risk reading them wrong.)
  // (yargs passes its instance as a second argument its types leave out.)
  parser.middleware(((_argv: unknown, y: unknown) => {
    const booleans = new Set((y as unknown as { getOptions(): { boolean: string[] } }).getOptions().boolean);
    for (const arg of args) {
      if (arg === '--') break;
      const [, name, value] = /^--(?:no-)?([^=]+)=(.*)$/s.exec(arg) ?? [];
      if (name !== undefined && booleans.has(name) && value !== 'true' && value !== 'false') {
        throw Object.assign(new Error(`${arg}: a flag takes true or false, or no value`), { usage: true });
      }
    }
  }) as never, true);
  skipHelpRendering(parser);
  for (const cmd of commands) {
    parser.command(cmd.command, cmd.describe, cmd.builder, async (argv) => {
      restoreDashPositionals([cmd.command].flat()[0]!, argv, args);
      exitCode = await onCommand(cmd, argv);
    });
  }
  await parser.parseAsync();
  return exitCode;
}

/**
 * yargs reads a positional `-` as an empty string, so `sign-blob -` would name no file at all.
 * `-` is standard input by the convention cosign follows (`cosign sign-blob -`): the command gets
 * the `-` typed. By now every option is `--name=value` (argv-check.ts), so the words left after
 * the command are its positionals, in order. A variadic positional (`build [rootfs..]`) loses a
 * `-` altogether: it gets its words back as typed, so that `build -f Dockerfile -` is not taken
 * for a build of the current directory.
 */
function restoreDashPositionals(command: string, argv: Record<string, unknown>, args: string[]): void {
  const words = command.split(' ');
  const start = args.indexOf(words[0]!);
  if (start < 0 || !args.includes('-')) return;
  const end = args.indexOf('--', start);
  const tokens = args.slice(start + 1, end < 0 ? undefined : end).filter((a) => a === '-' || !a.startsWith('-'));
  const names = words.slice(1).map((w) => /^[<[]([\w-]+)(\.\.)?[>\]]$/.exec(w));
  names.forEach((m, i) => {
    if (!m) return;
    const name = m[1]!;
    if (m[2] !== undefined) {
      if (tokens.slice(i).includes('-')) argv[name] = tokens.slice(i);
    } else if (tokens[i] === '-' && argv[name] === '') argv[name] = '-';
  });
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

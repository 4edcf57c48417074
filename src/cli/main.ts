import type { ArgumentsCamelCase } from 'yargs';
import { isOcipushError, OcipushError, systemReason } from '../errors.js';
import { commandName, type CliCommand } from './command.js';
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
  goOnWithoutStderr();
  const runCommand = async (cmd: CliCommand<any>, argv: ArgumentsCamelCase<Record<string, unknown>>): Promise<number> => {
    out = new Output({ json: argv.json as boolean, quiet: argv.quiet as boolean });
    if (argv.layout !== undefined) (await import('./layout-option.js')).layoutOption(commandName(cmd), argv, args);
    // Every command ends on Ctrl-C or SIGTERM with its status, one line and (--json) the error
    // document; push, pull, build … say more of what they leave (onInterrupt replaces this).
    await onInterrupt(out, commandLabel(cmd, argv));
    try {
      const code = await cmd.run(argv, out);
      return typeof code === 'number' ? code : 0;
    } catch (err) {
      throw await withHints(err, args, argv);
    }
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
    // Ctrl-C stopped the uploads, which fail while their sessions are cancelled: the signal's line
    // is the one said, and the exit its status (src/content/cleanup.ts ends the process).
    const { interruptedBy } = await import('../content/cleanup.js');
    if (interruptedBy() !== undefined) return await new Promise<number>(() => {});
    return reportFailure(err, out);
  }
}

async function withHints(err: unknown, args: string[], argv: Record<string, unknown>): Promise<unknown> {
  return await withDockerHubHint(await withDefaultLayoutHint(err, args), argv);
}

/**
 * `ocipush push app` meant for a registry of one's own: a name without a registry host is Docker
 * Hub's, as docker and crane read it. When Docker Hub cannot be reached or refuses, the line says
 * which name was read so and how a registry is named.
 */
async function withDockerHubHint(err: unknown, argv: Record<string, unknown>): Promise<unknown> {
  if (!isOcipushError(err) || (err.code !== 'ENETWORK' && err.code !== 'EAUTH')) return err;
  const { parseReference, looksLikeRegistryHost, DOCKER_HUB } = await import('../oci/reference.js');
  // The options naming images too (`build --base app`, `rebase --new-base`, `build --push`, the
  // images `index create` reads): a base typed as `app:1` meant for a registry of one's own is
  // the same slip. Never export's images, which are names in a layout.
  const named = ['reference', 'destination', 'source', 'target', 'image', 'repository', 'base', 'old-base', 'new-base', 'push'];
  const texts = named.flatMap((name) => [argv[name]].flat());
  if (argv.action === 'create') texts.push(...[argv.images].flat());
  // A failure at a registry another of the names gives (`rebase localhost:5044/app --new-base
  // debian`: the registry down) is about that one: no word on the Docker Hub name beside it.
  for (const text of texts) {
    if (typeof text !== 'string') continue;
    const host = text.replace(/^docker:\/\//, '').split('/')[0]!;
    if (text.includes('/') && looksLikeRegistryHost(host) && err.message.includes(host)) return err;
  }
  for (const text of texts) {
    // A layout or an archive is no registry.
    if (typeof text !== 'string' || /^(?:oci|oci-archive|docker-archive):/.test(text)) continue;
    const bare = text.replace(/^docker:\/\//, '');
    // A registry named (Docker Hub in full too, under any of its names) was meant.
    if (bare.includes('/') && looksLikeRegistryHost(bare.slice(0, bare.indexOf('/')))) continue;
    let ref;
    try {
      ref = parseReference(bare);
    } catch {
      continue;
    }
    if (ref.registry !== DOCKER_HUB) continue;
    const short = ref.repository.replace(/^library\//, '');
    // `localhost:5000`, `reg.example.com:5000`, `10.0.0.5`: a registry named without a repository
    // (docker reads the port as a tag); "localhost:5000/localhost:5000" would be no help.
    if (!ref.digest && (ref.tag === undefined || /^[0-9]+$/.test(ref.tag)) && (short === 'localhost' || short.includes('.'))) {
      const host = ref.tag === undefined ? short : `${short}:${ref.tag}`;
      return new OcipushError(err.code, `${err.message} (${JSON.stringify(text)} is read as Docker Hub's ${DOCKER_HUB}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}; an image in the registry ${host} is named with its repository: ${host}/REPOSITORY[:TAG])`, err.details);
    }
    const layout = await layoutNamed(bare);
    if (layout) return new OcipushError(err.code, `${err.message} (${JSON.stringify(text)} is Docker Hub's ${DOCKER_HUB}/${ref.repository}; the directory ${layout.dir} is an OCI layout: ${layout.reference} names its image)`, err.details);
    // `inspect hello:0.1` right after `build --tag hello:0.1`: the image built is in the default
    // layout under that name. (A push's or pull's reference is a registry's: the line below fits it.)
    const built = ['push', 'pull'].includes(String((argv._ as unknown[] | undefined)?.[0])) || [argv.push].flat().includes(text) ? undefined : await builtHere(bare);
    if (built) return new OcipushError(err.code, `${err.message} (${JSON.stringify(text)} is Docker Hub's ${DOCKER_HUB}/${ref.repository}; the image built here under that name is ${built})`, err.details);
    return new OcipushError(err.code, `${err.message} (${JSON.stringify(text)} is Docker Hub's ${DOCKER_HUB}/${ref.repository}; a registry of your own is named first: localhost:5000/${short}${ref.tag ? `:${ref.tag}` : ''})`, err.details);
  }
  return err;
}

/**
 * `lay:app` typed for the layout ./lay, as umoci names an image (`--image lay:app`): read as
 * Docker Hub's, as docker reads it, but when ./lay holds a layout the line names the form that
 * reads it rather than a registry the user never meant.
 */
async function layoutNamed(text: string): Promise<{ dir: string; reference: string } | undefined> {
  const colon = text.indexOf(':');
  const dir = colon < 0 ? text : text.slice(0, colon);
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  if (dir === '' || !existsSync(join(dir, 'oci-layout'))) return undefined;
  return { dir: `./${dir}`, reference: `oci:${text}` };
}

/** `oci:oci-layout:NAME` when the default layout (./oci-layout, or $OCIPUSH_LAYOUT) names an image NAME. */
async function builtHere(name: string): Promise<string | undefined> {
  const [{ readFile }, { join }, { defaultLayoutDir }] = await Promise.all([import('node:fs/promises'), import('node:path'), import('../transports/layout-name.js')]);
  try {
    const dir = defaultLayoutDir();
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests?: { annotations?: Record<string, string> }[] | null };
    const named = (index.manifests ?? []).some((m) => m.annotations?.['org.opencontainers.image.ref.name'] === name);
    return named ? `oci:${dir}:${name}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `ocipush push REF` (or export, index create, gc) in a directory where nothing was built: the
 * default layout is missing, and the line says how to make it or name another one.
 */
async function withDefaultLayoutHint(err: unknown, args: string[]): Promise<unknown> {
  if (!isOcipushError(err) || err.code !== 'ELAYOUT' || !err.message.endsWith(': not an OCI image layout (no such directory)')) return err;
  if (args.some((a) => a === '--layout' || a.startsWith('--layout='))) return err;
  const [{ resolve }, { defaultLayoutDir }] = await Promise.all([import('node:path'), import('../transports/layout-name.js')]);
  if (err.details.path !== resolve(defaultLayoutDir())) return err;
  const writes = process.env.OCIPUSH_LAYOUT ? 'writes it: OCIPUSH_LAYOUT names it' : 'writes ./oci-layout';
  return new OcipushError(err.code, `${err.message}; build an image first (ocipush build DIR ${writes}) or name the layout with --layout DIR`, err.details);
}

/** The exit status of a failed command, after its line on stderr and (--json) its error document on stdout. */
export function reportFailure(err: unknown, out: Output, stderr: NodeJS.WriteStream = process.stderr): number {
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
  // The shell's directory removed under it (`rm -rf` of it from elsewhere): no relative path
  // resolves. A failure of the user's setting, said in one line as git says it, not a defect's stack.
  if (e?.code === 'ENOENT' && (e as { syscall?: string }).syscall === 'uv_cwd') {
    const message = 'the current directory no longer exists (it was removed): cd into one that does, or name every path in full';
    out.error(message);
    if (out.json) out.writeJson({ error: { code: 'EREAD', message } });
    return 1;
  }
  // A defect: its stack as it is (secrets redacted), for the bug report; a script reading --json
  // still gets the error document every failure promises, naming the defect in one line.
  out.clearLive();
  stderr.write(`ocipush: internal error: ${redact(e?.stack ?? String(err))}\n`);
  if (out.json) out.writeJson({ error: { code: 'EINTERNAL', message: `internal error: ${oneLine(e?.message ?? String(err))}` } });
  return 70;
}

/**
 * The event loop ran dry while the command had not finished (a stream that never ended): a
 * defect, and a failure, never exit 0. The bin calls this from 'beforeExit'.
 */
export function reportStalled(args: string[], stdout: NodeJS.WriteStream = process.stdout, stderr: NodeJS.WriteStream = process.stderr): number {
  const message = 'internal error: the command stopped before it finished (an operation never completed)';
  const out = new Output({ json: wantsJson(args) }, stdout, stderr);
  out.error(message);
  if (out.json) out.writeJson({ error: { code: 'EINTERNAL', message } });
  return 70;
}

/** `mutate`, `index create`: the command as the interrupted line names it. */
function commandLabel(cmd: CliCommand<any>, argv: Record<string, unknown>): string {
  const name = commandName(cmd);
  return typeof argv.action === 'string' ? `${name} ${argv.action}` : name;
}

export function wantsJson(args: string[]): boolean {
  const end = args.indexOf('--');
  // `--json false` is --json=false, as yargs reads it: a usage error then is a line, not a document.
  return (end < 0 ? args : args.slice(0, end)).some((a, i, all) => (a === '--json' && all[i + 1] !== 'false') || a === '--json=true');
}

/**
 * stderr carries only what a person reads (progress, warnings, the error line), so a reader of
 * it that goes away (`2>&1 | head -1`, a log pipe that died) ends none of the command: its EPIPE
 * was an uncaught exception that killed a pull between two blobs with status 1, no word and no
 * --json document, leaving the layout it had created holding a blob and no image. The command
 * now finishes (its result on stdout, its exit status) with nothing more written to stderr.
 */
function goOnWithoutStderr(): void {
  process.stderr.on('error', () => {});
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

import { setMaxListeners } from 'node:events';
import { OcipushError } from '../errors.js';

/**
 * The library's own words for the hints that the lower layers write for the CLI. A message such
 * as "authentication required: use --username with --password-stdin" is right on a command line
 * and wrong in a script, where the fix is an option: raised through a library call (build, push,
 * pull), every `--flag` in a message becomes the option of the same meaning. The options are
 * named as the flags are (`--plain-http` is `plainHttp`, `--ca-file` is `caFile`, `--also-tag`
 * is `alsoTag`), so the rule is general; credentials are the one exception: the CLI's
 * `--username`/`--password-stdin` pair is the `credentials` option.
 */
const SPECIAL: [RegExp, string][] = [
  [/(?:use )?--username(?: with |\/)--password-stdin/g, 'set `credentials`'],
  [/--password-stdin needs --username/g, 'a password needs a username'],
  [/--username needs a password \(--password-stdin\)/g, 'a username needs a password'],
  [/use --/g, 'set --'],
  [/\bor --/g, 'or set --'],
];

export function inLibraryTerms(message: string): string {
  let text = message;
  for (const [pattern, replacement] of SPECIAL) text = text.replace(pattern, replacement);
  return text.replace(/(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)/g, (_, flag: string) => `\`${camel(flag)}\``);
}

/** Switches read as the option's value: `--insecure` is `insecure: true`. */
const SWITCHES: Record<string, string> = { 'plain-http': 'plainHttp: true', insecure: 'insecure: true', 'no-cache': 'cache: false' };

function camel(flag: string): string {
  if (flag === 'username' || flag === 'password-stdin') return 'credentials';
  if (SWITCHES[flag]) return SWITCHES[flag];
  if (flag === 'file') return 'dockerfile';
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Runs a library call: an OcipushError keeps its code and details with its message in the
 * library's terms; a call stopped by its AbortSignal rejects with EABORTED (cause: the signal's
 * reason), whatever the layer below threw when its work was cut.
 *
 * `run` gets the options with a signal of the call's own in place of the caller's: the caller's
 * signal gets one listener for the whole call (removed when it ends), the many requests, waits and
 * streams of the call listen to the call's signal, so a caller sharing one signal among its calls
 * never sees Node's MaxListenersExceededWarning on stderr because of what one call does inside.
 */
export async function libraryCall<T, O extends { signal?: AbortSignal }>(call: LibraryCall<O>, options: O, run: (options: O) => Promise<T>): Promise<T> {
  checkOptions(call, options);
  const signal = options.signal;
  const own = signal ? new AbortController() : undefined;
  const forward = () => own?.abort(signal?.reason);
  if (own) {
    setMaxListeners(0, own.signal);
    signal!.addEventListener('abort', forward, { once: true });
  }
  try {
    signal?.throwIfAborted();
    return await run(own ? { ...options, signal: own.signal } : options);
  } catch (err) {
    if (signal?.aborted) {
      if (err instanceof OcipushError && err.code === 'EABORTED') throw translate(err);
      throw new OcipushError('EABORTED', `${call.what(options)}: aborted`, { cause: signal.reason });
    }
    // The process's directory removed from elsewhere: a relative path (the default layout) cannot resolve.
    const e = err as { code?: string; syscall?: string };
    if (e?.code === 'ENOENT' && e.syscall === 'uv_cwd') {
      throw new OcipushError('EREAD', `${call.name}: the current directory no longer exists (it was removed): give \`layout\` and every other path in full`, { cause: err });
    }
    throw err instanceof OcipushError ? translate(err) : err;
  } finally {
    signal?.removeEventListener('abort', forward);
  }
}

/** What libraryCall checks of a call's options before it runs, and how an aborted call is named. */
export interface LibraryCall<O> {
  name: string;
  /** The options it cannot go without, each a string, with what it is (`to`: "REGISTRY/REPOSITORY[:TAG]"). */
  required: Partial<Record<keyof O & string, string>>;
  /** Options that, when given, are strings (`layout`, `tag`, `platform`). */
  strings?: (keyof O & string)[];
  /** Options that, when given, are lists of strings (`entrypoint`, `cmd`): a string there would be written into the image as it is. */
  lists?: (keyof O & string)[];
  /** Options that, when given, are a string or a list of them (`alsoTag`, `rootfs`). */
  oneOrList?: (keyof O & string)[];
  /** Options that, when given, are true or false (`fast`, `referrers`), besides the registry options' `plainHttp`, `insecure` and `unlistedPlatform`. */
  booleans?: (keyof O & string)[];
  /** Options that, when given, are objects of string values (`labels`, `buildArgs`); `env` may also be a list of `KEY=VALUE`. */
  records?: (keyof O & string)[];
  /** The words an aborted call's message starts with (`push reg.example.com/app:1`). */
  what: (options: O) => string;
}

/**
 * A script in plain JavaScript (or with values typed `any`) passes what the types would refuse:
 * no options, a required option left out or not a string, an AbortController for its signal.
 * Each is an EUSAGE naming the option, as every other failure of a call is an OcipushError,
 * not a TypeError from deep inside ("Cannot read properties of undefined (reading 'startsWith')").
 */
function checkOptions<O>(call: LibraryCall<O>, options: O): void {
  if (typeof options !== 'object' || options === null) {
    throw new OcipushError('EUSAGE', `${call.name}: expected an options object, got ${describe(options)}`);
  }
  const record = options as Record<string, unknown>;
  for (const [name, what] of Object.entries(call.required) as [string, string][]) {
    const value = record[name];
    if (value === undefined) throw new OcipushError('EUSAGE', `${call.name}: \`${name}\` is missing: ${what}`);
    if (typeof value !== 'string') throw new OcipushError('EUSAGE', `${call.name}: \`${name}\` ${describe(value)}: expected a string, ${what}`);
  }
  for (const name of [...(call.strings ?? []), 'certDir']) {
    const value = record[name];
    if (value !== undefined && typeof value !== 'string') throw new OcipushError('EUSAGE', `${call.name}: \`${name}\` ${describe(value)}: expected a string`);
  }
  // A string is truthy: `fast: process.env.FAST` of "false" once read no layer, `referrers: "false"` copied them.
  for (const name of [...(call.booleans ?? []), 'plainHttp', 'insecure', 'unlistedPlatform']) {
    const value = record[name];
    if (value !== undefined && typeof value !== 'boolean') throw new OcipushError('EUSAGE', `${call.name}: \`${name}\` ${describe(value)}: expected true or false`);
  }
  const caFile = record.caFile;
  if (caFile !== undefined && ![caFile].flat().every((f) => typeof f === 'string')) {
    throw new OcipushError('EUSAGE', `${call.name}: \`caFile\` ${describe(caFile)}: expected a file name or a list of them`);
  }
  const isList = (v: unknown) => Array.isArray(v) && v.every((e) => typeof e === 'string');
  for (const name of call.lists ?? []) {
    const value = record[name];
    if (value !== undefined && !isList(value)) throw new OcipushError('EUSAGE', `${call.name}: \`${name}\` ${describe(value)}: expected a list of strings${typeof value === 'string' ? ` (${JSON.stringify([value])})` : ''}`);
  }
  for (const name of call.oneOrList ?? []) {
    const value = record[name];
    if (value !== undefined && typeof value !== 'string' && !isList(value)) throw new OcipushError('EUSAGE', `${call.name}: \`${name}\` ${describe(value)}: expected a string or a list of them`);
  }
  for (const name of call.records ?? []) {
    const value = record[name];
    if (value === undefined || (name === 'env' && isList(value))) continue;
    const isRecord = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
    if (!isRecord) throw new OcipushError('EUSAGE', `${call.name}: \`${name}\` ${describe(value)}: expected an object of string values${name === 'env' ? ', or a list of KEY=VALUE' : ''}`);
  }
  const signal = record.signal as { aborted?: unknown; addEventListener?: unknown; abort?: unknown } | undefined;
  // By its shape, not its class: a signal of another realm (a vm context, a test environment's) is one too.
  const isSignal = (s: typeof signal) => typeof s === 'object' && s !== null && typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function';
  if (signal !== undefined && !isSignal(signal)) {
    const controller = typeof signal === 'object' && signal !== null && typeof signal.abort === 'function' && isSignal((signal as { signal?: typeof signal }).signal) ? ' (an AbortController: pass its `signal`)' : '';
    throw new OcipushError('EUSAGE', `${call.name}: \`signal\` ${describe(signal)}: expected an AbortSignal${controller}`);
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `a${/^[AEIOU]/.test(value.constructor?.name ?? '') ? 'n' : ''} ${value.constructor?.name ?? 'object'}`;
  return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}

function translate(err: OcipushError): OcipushError {
  const message = inLibraryTerms(err.message);
  if (message === err.message) return err;
  const out = new OcipushError(err.code, message, err.details);
  if (err.stack) out.stack = err.stack.replace(err.message, message);
  return out;
}

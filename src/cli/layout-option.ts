import { parseLayoutTarget } from '../transports/layout-reference.js';
import { defaultLayoutDir } from '../transports/layout-name.js';
import { usageError } from './command.js';

/** Verbs whose --tag names one image of the layout: the NAME of `--layout oci:DIR:NAME` is that. */
const TAGGED = new Set(['build', 'pull', 'push', 'index']);

/**
 * `--layout oci:DIR` as skopeo's and oras's users write a layout: the directory DIR, not one
 * named `oci:DIR` (which `build` created and `push oci:DIR` then never read). A NAME in it
 * (`oci:DIR:NAME`, `oci:DIR@sha256:…`) is the verb's --tag, as `push oci:DIR:NAME` reads it;
 * a --tag typed too must say the same. A verb of the whole layout (gc, export) takes no NAME.
 */
export function layoutOption(verb: string, argv: Record<string, unknown>, args: string[]): void {
  const text = argv.layout;
  // `--layout "$DIR"` with DIR unset: the current directory would become the layout.
  if (text === '') throw usageError('--layout "": name a directory (the current one is --layout .)');
  if (typeof text !== 'string' || !text.startsWith('oci:')) return;
  // Not typed: the default, OCIPUSH_LAYOUT=oci:DIR, read as a library call reads it (a NAME there refused).
  if (!args.some((a) => /^--layout(?:=|$)/.test(a))) {
    argv.layout = defaultLayoutDir();
    return;
  }
  const { dir, name } = parseLayoutTarget(text)!;
  argv.layout = dir;
  if (name === undefined) return;
  if (!TAGGED.has(verb)) throw usageError(`--layout ${text}: ${verb} reads the whole layout, not one image: --layout oci:${dir}`);
  const typed = args.some((a) => /^(?:--tag|-t)(?:=|$)/.test(a));
  if (typed && argv.tag !== name) throw usageError(`--layout ${text} and --tag ${String(argv.tag)}: name the image once`);
  argv.tag = name;
}

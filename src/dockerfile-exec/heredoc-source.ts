import type { HeredocSource } from '../dockerfile/index.js';
import { CopyError } from './copy-instruction.js';
import { cleanAbsolute, FsTree, splitPath } from './tree.js';

/**
 * The filesystem a COPY or ADD heredoc is copied from, as BuildKit's dispatchCopy makes it:
 * `llb.Scratch().File(llb.Mkfile(name, 0644, body))`, an empty root holding one file named as
 * the heredoc, owned by root. BuildKit stamps it with the time it is written; ocipush with the
 * build's clamp time (0, or SOURCE_DATE_EPOCH / --created), as it does the directories a copy
 * makes, so that the same Dockerfile gives the same layer. Returns the view and the file's path.
 */
export function heredocSource(heredoc: HeredocSource, time: number): { view: FsTree; path: string } {
  const path = cleanAbsolute('/' + heredoc.name);
  const parts = splitPath(path);
  if (parts.length !== 1) {
    // mkfile writes at the root of an empty filesystem: no directory there to hold it.
    const why = parts.length === 0 ? 'is a directory' : 'no such file or directory';
    throw new CopyError(`heredoc <<${heredoc.name}: BuildKit cannot write it as a file at ${path} of an empty filesystem (${why})`);
  }
  const view = new FsTree(`heredoc <<${heredoc.name}`);
  const data = Buffer.from(heredoc.data, 'utf8');
  view.root.children!.set(parts[0]!, { type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: time, size: data.length, content: { kind: 'inline', data } });
  return { view, path };
}

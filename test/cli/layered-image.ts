import { chmodSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool, run } from '../support/tools.js';

function write(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

/**
 * An image umoci builds (an independent implementation) in `dir`/layout, tagged `t`, whose seven
 * layers do what layers do: a file replaced, one deleted (a whiteout), a directory made opaque, a
 * directory replaced by a file, a setuid file, a symlink, a hard link in one layer, and a hard
 * link in an upper layer to a file a lower layer holds (a layer GNU tar wrote, added verbatim).
 * Returns the layout's path.
 */
export function makeLayeredImage(dir: string): string {
  requireTool('umoci');
  const layout = join(dir, 'layout');
  const image = `${layout}:t`;
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', image]);
  const r1 = join(dir, 'r1');
  write(r1, { 'a/keep': 'keep\n', 'a/gone': 'gone\n', 'b/x': 'old\n', 'c/sub/f': 'c1\n', 'c/old': 'c2\n', 'g/child': 'under a dir that becomes a file\n' });
  mkdirSync(join(r1, 'd'));
  linkSync(join(r1, 'a', 'keep'), join(r1, 'd', 'hard'));
  symlinkSync('../a/keep', join(r1, 'd', 'sym'));
  chmodSync(join(r1, 'a', 'keep'), 0o4755);
  run('umoci', ['insert', '--image', image, r1, '/']);
  run('umoci', ['insert', '--image', image, '--whiteout', '/a/gone']);
  const r2 = join(dir, 'r2');
  write(r2, { 'b/x': 'new\n', 'c/new': 'cnew\n' });
  run('umoci', ['insert', '--image', image, join(r2, 'b'), '/b']);
  run('umoci', ['insert', '--image', image, '--opaque', join(r2, 'c'), '/c']);
  run('umoci', ['insert', '--image', image, '--whiteout', '/g']);
  const r3 = join(dir, 'r3');
  write(r3, { g: 'a file now\n' });
  run('umoci', ['insert', '--image', image, r3, '/']);
  // A hard link to a/keep, which only a lower layer holds: GNU tar writes the pair, the target is deleted from the tar.
  const r4 = join(dir, 'r4');
  write(r4, { 'a/keep': 'keep\n' });
  mkdirSync(join(r4, 'f'));
  linkSync(join(r4, 'a', 'keep'), join(r4, 'f', 'link'));
  const layer = join(dir, 'r4.tar');
  run('tar', ['-C', r4, '--numeric-owner', '-cf', layer, 'a/keep', 'f', 'f/link']);
  run('tar', ['--delete', '-f', layer, 'a/keep']);
  run('umoci', ['raw', 'add-layer', '--image', image, layer]);
  return layout;
}

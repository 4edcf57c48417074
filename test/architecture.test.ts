import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The shape ARCHITECTURE.md describes, checked: the top-level parts of src/ import each other one
 * way only (static and dynamic imports alike), no source file outgrows one sitting, and the copy
 * code asks storages for capabilities instead of testing their class.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const src = join(root, 'src');

/** Bottom to top: a part may import only parts listed before it (and itself). */
const LAYERS = [
  ['redact.ts'],
  ['errors.ts', 'version.ts', 'defaults.ts', 'runtime-flags.ts', 'each-at-most.ts', 'read-stdin.ts'],
  ['oci'],
  ['dockerfile'],
  ['content'],
  ['registry', 'layer'],
  ['transfer', 'supply-chain'],
  ['image'],
  ['archive'],
  ['transports'],
  ['assemble'],
  ['dockerfile-exec'],
  ['lib'],
  ['cli', 'index.ts'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

function partOf(file: string): string {
  return relative(src, file).split(/[\\/]/)[0]!;
}

function rankOf(part: string): number {
  const rank = LAYERS.findIndex((parts) => parts.includes(part));
  assert.notEqual(rank, -1, `src/${part} is not placed in the layering of test/architecture.test.ts (and ARCHITECTURE.md)`);
  return rank;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((spec) => posix.normalize(posix.join(posix.dirname(relative(src, file).split('\\').join('/')), spec)));
}

test('the top-level parts of src/ import each other one way only', () => {
  const violations: string[] = [];
  for (const file of sourceFiles(src)) {
    const from = partOf(file);
    for (const target of importsOf(file)) {
      const to = target.split('/')[0]!.replace(/\.js$/, '.ts');
      if (to === from) continue;
      if (rankOf(to) > rankOf(from) || (rankOf(to) === rankOf(from) && to !== from)) {
        violations.push(`${relative(root, file)} imports ${target} (${from} may not depend on ${to})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('the copy code asks storages for capabilities, never for their class', () => {
  const offenders = sourceFiles(join(src, 'transfer'))
    .filter((file) => /instanceof\s+(Repository|OciLayout|LazyBlobs|\w*Archive\w*)\b/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(root, file));
  assert.deepEqual(offenders, []);
});

test('no source file is over 450 lines', () => {
  const long = sourceFiles(src)
    .map((file) => ({ file: relative(root, file), lines: readFileSync(file, 'utf8').split('\n').length }))
    .filter((f) => f.lines > 450);
  assert.deepEqual(long, []);
});

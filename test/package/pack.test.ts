import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, posix } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../support/tools.js';

interface PackedFile { path: string; size: number }

/** What `npm pack` would put in the tarball (scripts off: no rebuild of dist/ under running tests). */
export function packedFiles(): PackedFile[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  const [pack] = JSON.parse(r.stdout) as [{ files: PackedFile[] }];
  return pack.files;
}

function tsSources(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const rel = posix.join(prefix, e.name);
    if (e.isDirectory()) return tsSources(join(dir, e.name), rel);
    return e.name.endsWith('.ts') ? [rel] : [];
  });
}

// The package ships the TypeScript sources with their source maps (not maps pointing at nothing):
// per src/X.ts, the source and its four compiled files; besides them LICENSE, README.md,
// package.json and bin/ocipush.js; nothing else (no tests, no scripts, no stale dist/ file).
test('npm pack ships LICENSE, README, bin, and for every src/X.ts: itself, dist/src/X.js, .js.map, .d.ts, .d.ts.map — nothing else', () => {
  const files = packedFiles().map((f) => f.path).sort();
  const expected = ['LICENSE', 'README.md', 'bin/ocipush.js', 'package.json'];
  for (const rel of tsSources(join(REPO_ROOT, 'src'))) {
    const stem = rel.slice(0, -'.ts'.length);
    expected.push(`src/${rel}`, `dist/src/${stem}.js`, `dist/src/${stem}.js.map`, `dist/src/${stem}.d.ts`, `dist/src/${stem}.d.ts.map`);
  }
  expected.sort();
  const missing = expected.filter((f) => !files.includes(f));
  const extra = files.filter((f) => !expected.includes(f));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, 'an extra dist/src file is stale output: npm pack rebuilds dist/ (prepack)');

  // Every map points at a source that ships, so stack traces and go-to-definition find it.
  for (const map of files.filter((f) => f.endsWith('.map'))) {
    const { sources } = JSON.parse(readFileSync(join(REPO_ROOT, map), 'utf8')) as { sources: string[] };
    for (const source of sources) {
      const target = posix.normalize(posix.join(posix.dirname(map), source));
      assert.ok(files.includes(target), `${map} points at ${target}, which does not ship`);
    }
  }
});

test('LICENSE is the Apache License 2.0, as package.json says', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { license: string };
  assert.equal(pkg.license, 'Apache-2.0');
  const text = readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8');
  assert.match(text, /Apache License\s+Version 2\.0, January 2004/);
  assert.match(text, /END OF TERMS AND CONDITIONS/);
});

test("README's install section shows npm pack --dry-run lines that npm pack really lists", () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const shown = [...readme.matchAll(/^npm notice [\d.]+k?B (\S+)$/gm)].map((m) => m[1]!);
  assert.ok(shown.length >= 5, 'the README shows the tarball contents');
  const files = packedFiles().map((f) => f.path);
  for (const f of shown) assert.ok(files.includes(f), `README shows ${f}, which npm pack does not list`);
});

// "exports" named only the entry point: a tool that reads an installed package's version
// (`require('ocipush/package.json')`, as bundlers' and frameworks' checks do) got
// ERR_PACKAGE_PATH_NOT_EXPORTED, and the package exports no version of its own.
test('ocipush/package.json resolves through "exports", for the installed version', () => {
  const pkg = createRequire(import.meta.url)('ocipush/package.json') as { name: string; version: string };
  const own = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.deepEqual([pkg.name, pkg.version], ['ocipush', own.version]);
});

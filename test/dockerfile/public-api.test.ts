import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createIgnoreMatcher,
  expandVariables,
  expandWords,
  ExpansionError,
  isOcipushError,
  parseDockerfile,
  parseDockerignore,
  processWord,
  resolveStages,
  type IgnoreMatcher,
  type ParsedDockerfile,
  type ResolvedDockerfile,
} from '../../src/index.js';
import { REPO_ROOT } from '../support/tools.js';

/** The Dockerfile front end is public API: reachable from the package entry, typed, documented. */

test('the package entry (package.json "main", "exports") is the module these imports come from', async () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { main: string; exports: { '.': { import?: string; default?: string } | string } };
  const entry = (await import(pathToFileURL(join(REPO_ROOT, pkg.main)).href)) as Record<string, unknown>;
  for (const [name, value] of Object.entries({ parseDockerfile, resolveStages, processWord, expandVariables, expandWords, parseDockerignore, createIgnoreMatcher, ExpansionError })) {
    assert.equal(entry[name], value, `${name} is exported by ${pkg.main}`);
  }
  // Resolved through the package name, as a user imports it.
  const byName = (await import('ocipush')) as Record<string, unknown>;
  assert.equal(byName.parseDockerfile, parseDockerfile);
});

test('the docs example: parse, resolve, expand, match', () => {
  const parsed: ParsedDockerfile = parseDockerfile('FROM scratch AS app\nARG VERSION=1.0\nCOPY --chmod=go-w dist/ /srv/app-${VERSION}/\n', { filename: 'Dockerfile' });
  assert.deepEqual(parsed.stages.map((s) => s.name), ['app']);
  const resolved: ResolvedDockerfile = resolveStages(parsed, { buildArgs: { VERSION: '2.1' } });
  const copy = resolved.target.instructions.find((i) => i.keyword === 'COPY');
  assert.ok(copy && copy.keyword === 'COPY');
  assert.equal(copy.dest, '/srv/app-2.1/');

  assert.equal(expandVariables('${NAME:-world}-$TAG', { TAG: 'v1' }), 'world-v1');
  assert.deepEqual(expandWords('$PORTS "8080 9090"', { PORTS: '80 443' }), ['80', '443', '8080 9090']);
  const word = processWord('$A/${B:+set}', new Map([['A', 'x']]));
  assert.deepEqual([word.value, [...word.matched], [...word.unmatched]], ['x/', ['A'], ['B']]);
  // An exported error class carries its code, as every other error of the package does.
  assert.throws(() => processWord('${A:?is required}', {}), (e: unknown) => e instanceof ExpansionError && isOcipushError(e) && e.code === 'EDOCKERFILE' && e.message === 'failed to process "${A:?is required}": A: is required');
  assert.throws(() => expandVariables('${A:?is required}', {}), (e: unknown) => isOcipushError(e) && e.code === 'EDOCKERFILE');

  const ignore: IgnoreMatcher = createIgnoreMatcher(parseDockerignore('node_modules\n**/*.log\n!keep.log\n'));
  assert.deepEqual(['node_modules/x/y.js', 'src/a.log', 'keep.log', 'src/main.ts'].filter((p) => ignore(p)), ['node_modules/x/y.js', 'src/a.log']);
  assert.throws(() => parseDockerfile('FROM scratch\nCOPPY a /b\n'), (e: unknown) => isOcipushError(e) && /^Dockerfile:2:1: unknown instruction "COPPY"/.test(e.message));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createIgnoreMatcher, parseDockerignore } from '../../src/dockerfile/index.js';
import { isOcipushError } from '../../src/errors.js';

function excluded(ignore: string, paths: string[]): string[] {
  const matcher = createIgnoreMatcher(parseDockerignore(ignore));
  return paths.filter((p) => matcher(p));
}

test('reading: comments only at line start, blank lines skipped, whitespace trimmed, paths cleaned', () => {
  const patterns = parseDockerignore('\ufeff# comment\r\n\r\n  *.log  \r\n  # not a comment\n/abs/path\n./a/b/../c/\n! keep.log\n/\n');
  assert.deepEqual(patterns, [
    { pattern: '*.log', exclusion: false, line: 3 },
    { pattern: '# not a comment', exclusion: false, line: 4 },
    { pattern: 'abs/path', exclusion: false, line: 5 },
    { pattern: 'a/c', exclusion: false, line: 6 },
    { pattern: 'keep.log', exclusion: true, line: 7 },
    { pattern: '/', exclusion: false, line: 8 },
  ]);
});

test('invalid patterns fail with the .dockerignore line', () => {
  const check = (text: string, re: RegExp): void =>
    assert.throws(
      () => parseDockerignore(text),
      (e: unknown) => isOcipushError(e) && e.code === 'EDOCKERFILE' && re.test(e.message),
    );
  check('ok\n!\n', /^\.dockerignore:2:1: illegal exclusion pattern: "!"$/);
  check('a[\n', /^\.dockerignore:1:1: syntax error in pattern "a\["/);
  check('x\n[]a]\n', /^\.dockerignore:2:1: syntax error in pattern/);
  check('a\\\n', /syntax error in pattern/);
  assert.throws(() => createIgnoreMatcher(['[z-']), /syntax error in pattern/);
});

test('a reversed range is an error when the pattern is first used, as patternmatcher (RE2) gives it', () => {
  // filepath.Match accepts [Local-Only] (New succeeds), but RE2 refuses the range l-O: BuildKit
  // answers ErrBadPattern when it matches the first path; buildah says the same.
  const m = createIgnoreMatcher(parseDockerignore('a\n[Local-Only]/\n'));
  assert.throws(() => m('foo'), (e: unknown) => isOcipushError(e) && e.code === 'EDOCKERFILE' &&
    /^\.dockerignore:2:1: syntax error in pattern "\[Local-Only\]": invalid character class range l-O$/.test(e.message));
  // Only the patterns patternmatcher evaluates: an exception is tried only once a path is excluded.
  const exception = createIgnoreMatcher(['x', '![z-a]']);
  assert.equal(exception('y'), false);
  assert.throws(() => exception('x'), /syntax error in pattern "\[z-a\]"/);
  // --exclude patterns name their source.
  assert.throws(() => createIgnoreMatcher(['[z-a]'], { source: '--exclude' })('f'), (e: unknown) => isOcipushError(e) && /^--exclude: syntax error in pattern "\[z-a\]"/.test(e.message));
  // A range in order still works, and an unsupported escape fails the same way.
  assert.deepEqual(excluded('[a-c]x\n', ['bx', 'dx']), ['bx']);
  assert.throws(() => createIgnoreMatcher(['a\\q'])('aq'), /syntax error in pattern "a\\\\q": unsupported escape/);
});

test('a plain name matches that path and everything under it, at the context root only', () => {
  assert.deepEqual(excluded('node_modules\n', ['node_modules', 'node_modules/a/b.js', 'src/node_modules', 'node_modules2']), ['node_modules', 'node_modules/a/b.js']);
  assert.deepEqual(excluded('build/out\n', ['build', 'build/out', 'build/out/x', 'build/outer']), ['build/out', 'build/out/x']);
  assert.deepEqual(excluded('/tmp/\n', ['tmp/x', 'a/tmp']), ['tmp/x']);
});

test('* and ? stay inside one path segment; [...] classes; escapes', () => {
  const paths = ['a.log', 'dir/a.log', 'ab.txt', 'a1.txt', 'aZ.txt', 'x*y', 'xzy', 'a/b/c', 'a/bb/c'];
  assert.deepEqual(excluded('*.log\n', paths), ['a.log']);
  assert.deepEqual(excluded('*/*.log\n', paths), ['dir/a.log']);
  assert.deepEqual(excluded('a?.txt\n', paths), ['ab.txt', 'a1.txt', 'aZ.txt']);
  assert.deepEqual(excluded('a[0-9].txt\n', paths), ['a1.txt']);
  assert.deepEqual(excluded('a[^0-9].txt\n', paths), ['ab.txt', 'aZ.txt']);
  assert.deepEqual(excluded('x\\*y\n', paths), ['x*y']);
  assert.deepEqual(excluded('a/?/c\n', paths), ['a/b/c']);
  assert.deepEqual(excluded('a/*/c\n', paths), ['a/b/c', 'a/bb/c']);
  // Regular expression characters are literal.
  assert.deepEqual(excluded('f.(x)+\n', ['f.(x)+', 'fa(x)', 'f.xx']), ['f.(x)+']);
});

test('|, { and } reach the regexp as patternmatcher leaves them: an alternation and a repeat where the pattern has a wildcard', () => {
  // patternmatcher's table of characters to escape drops these three (moby/patternmatcher's
  // shouldEscape), so Go's regexp reads `^[^/]*\.log|[^/]*\.tmp$`: two alternatives, each anchored at one end.
  const paths = ['a.log', 'a.log.bak', 'dir/x.tmp', 'x.txt', '*.log|*.tmp'];
  assert.deepEqual(excluded('*.log|*.tmp\n', paths), ['a.log', 'a.log.bak', 'dir/x.tmp', '*.log|*.tmp']);
  // Without a wildcard the pattern is an exact path: `|` is then a plain character.
  assert.deepEqual(excluded('a|b\n', ['a', 'b', 'a|b']), ['a|b']);
  // `{n}`, `{n,}`, `{n,m}` repeat what comes before; anything else is a literal brace.
  assert.deepEqual(excluded('x?{2}\n', ['xa', 'xab', 'xabc']), ['xab']);
  assert.deepEqual(excluded('x?{1,}\n', ['x', 'xa', 'xaaa']), ['xa', 'xaaa']);
  assert.deepEqual(excluded('*.{js,ts}\n', ['a.js', 'a.{js,ts}']), ['a.{js,ts}']);
  assert.deepEqual(excluded('x?{01}\n', ['xa', 'xa{01}']), ['xa{01}']);
  assert.deepEqual(excluded('*}\n', ['a}', 'a']), ['a}']);
  assert.deepEqual(excluded('{2}*\n', ['a', 'b/c']), ['a', 'b/c']);
  // What RE2 refuses is BuildKit's syntax error when the pattern is first used.
  for (const bad of ['a*{2}', 'x?{1001}', 'x?{3,2}']) {
    assert.throws(() => createIgnoreMatcher([bad])('x'), (e: unknown) => isOcipushError(e) && e.code === 'EDOCKERFILE' && /syntax error in pattern/.test(e.message), bad);
  }
});

test('** spans any number of directories', () => {
  const paths = ['main.go', 'pkg/a.go', 'pkg/sub/b.go', 'pkg/a.txt', 'node_modules/x', 'web/node_modules/y/z', 'docs/a/b/c.md', 'docs/c.md', 'README.md'];
  assert.deepEqual(excluded('**/*.go\n', paths), ['main.go', 'pkg/a.go', 'pkg/sub/b.go']);
  assert.deepEqual(excluded('**/node_modules\n', paths), ['node_modules/x', 'web/node_modules/y/z']);
  assert.deepEqual(excluded('docs/**/*.md\n', paths), ['docs/a/b/c.md', 'docs/c.md']);
  assert.deepEqual(excluded('pkg/**\n', paths), ['pkg/a.go', 'pkg/sub/b.go', 'pkg/a.txt']);
  assert.deepEqual(excluded('**\n', paths), paths);
  assert.deepEqual(excluded('**.md\n', paths), ['docs/a/b/c.md', 'docs/c.md', 'README.md']);
});

test('! exceptions re-include; the last matching pattern wins', () => {
  const paths = ['a.md', 'README.md', 'docs/README.md', 'x.txt'];
  assert.deepEqual(excluded('*.md\n!README.md\n', paths), ['a.md']);
  assert.deepEqual(excluded('*.md\n!README.md\nREADME.md\n', paths), ['a.md', 'README.md']);
  assert.deepEqual(excluded('**/*.md\n!**/README.md\n', paths), ['a.md']);
  // Everything except an allow-list.
  assert.deepEqual(excluded('*\n!src\n!package.json\n', ['src/index.js', 'package.json', 'test/a.js', '.env']), ['test/a.js', '.env']);
});

test('an exception inside an excluded directory re-includes just that path', () => {
  const ignore = 'docs\n!docs/keep.md\n';
  assert.deepEqual(excluded(ignore, ['docs', 'docs/keep.md', 'docs/other.md', 'docs/sub/x']), ['docs', 'docs/other.md', 'docs/sub/x']);
  const matcher = createIgnoreMatcher(parseDockerignore(ignore));
  assert.equal(matcher.hasExceptions, true);
  // The walker must enter docs (to find keep.md) but can skip docs/sub.
  assert.equal(matcher.mayReinclude('docs'), true);
  assert.equal(matcher.mayReinclude('docs/sub'), false);
  assert.equal(matcher.mayReinclude('other'), false);
});

test('mayReinclude: no exceptions means never; a wildcard exception means every directory', () => {
  assert.equal(createIgnoreMatcher(['node_modules']).mayReinclude('node_modules'), false);
  assert.equal(createIgnoreMatcher(['node_modules']).hasExceptions, false);
  const wildcard = createIgnoreMatcher(['vendor', '!**/LICENSE']);
  assert.equal(wildcard.mayReinclude('vendor'), true);
  assert.equal(wildcard('vendor/x/LICENSE'), false);
  assert.equal(wildcard('vendor/x/main.go'), true);
  // A trailing /** or /* on the exception still counts as a prefix.
  const prefix = createIgnoreMatcher(['build', '!build/keep/**']);
  assert.equal(prefix.mayReinclude('build'), true);
  assert.equal(prefix.mayReinclude('build/keep'), true);
  assert.equal(prefix.mayReinclude('build/tmp'), false);
});

test('children use their parents\' results, as the build context walker does', () => {
  // "!d" is tested against "d" itself, not again against d's children: d/f stays excluded.
  const m = createIgnoreMatcher(['d/f', '!d']);
  assert.equal(m('d'), false);
  assert.equal(m('d/f'), true);
  // Asking out of walk order gives the same answers.
  assert.equal(createIgnoreMatcher(['d/f', '!d'])('d/f'), true);
});

test('query paths are normalized; the context root is never excluded; isDir changes nothing', () => {
  const m = createIgnoreMatcher(['*']);
  assert.equal(m('.'), false);
  assert.equal(m(''), false);
  assert.equal(m('./a'), true);
  assert.equal(m('/a'), true);
  const dirPattern = createIgnoreMatcher(parseDockerignore('cache/\n'));
  assert.equal(dirPattern('cache', true), true);
  assert.equal(dirPattern('cache', false), true);
  assert.equal(createIgnoreMatcher([])('anything'), false);
});

test('a backslash in a name is a plain character on Linux, not a separator', () => {
  // A file named `a\b` is not inside a directory `a`; `a\\b` (an escaped backslash) names it.
  assert.deepEqual(excluded('a\n', ['a\\b', 'a', 'a/b']), ['a', 'a/b']);
  assert.deepEqual(excluded('a\\\\b\n', ['a\\b', 'a/b']), ['a\\b']);
  assert.deepEqual(excluded('*\\\\\n', ['a\\', 'a/', 'b']), ['a\\']);
});

test('string patterns are read like .dockerignore lines', () => {
  const m = createIgnoreMatcher(['# a comment', '/tmp/', '  ', '!tmp/keep', './logs/../cache']);
  assert.deepEqual(m.patterns, [
    { pattern: 'tmp', exclusion: false },
    { pattern: 'tmp/keep', exclusion: true },
    { pattern: 'cache', exclusion: false },
  ]);
  assert.deepEqual(['tmp/a', 'tmp/keep', 'cache/x', '# a comment'].filter((p) => m(p)), ['tmp/a', 'cache/x']);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandVariables, expandWords, processWord, ExpansionError } from '../../src/dockerfile/index.js';
import { isOcipushError } from '../../src/errors.js';

// Expected values follow BuildKit's shell lexer tests (frontend/dockerfile/shell/lex_test.go,
// TestProcessWithMatches) so behaviour stays identical to docker build.

function expand(input: string, env: Record<string, string>): { value: string; matched: string[]; unmatched: string[] } {
  const r = processWord(input, env);
  return { value: r.value, matched: [...r.matched].sort(), unmatched: [...r.unmatched].sort() };
}

test('plain $VAR and ${VAR}, unset variables expand to nothing', () => {
  assert.deepEqual(expand('x', { DUMMY: 'dummy' }), { value: 'x', matched: [], unmatched: [] });
  assert.deepEqual(expand('x ${UNUSED}', { DUMMY: 'dummy' }), { value: 'x ', matched: [], unmatched: ['UNUSED'] });
  assert.deepEqual(expand('x ${FOO}', { FOO: 'y' }), { value: 'x y', matched: ['FOO'], unmatched: [] });
  assert.equal(expandVariables('$FOO/bar', { FOO: '/opt' }), '/opt/bar');
  assert.equal(expandVariables('$FOO_BAR', { FOO: 'x', FOO_BAR: 'y' }), 'y');
  assert.equal(expandVariables('${FOO}_BAR', { FOO: 'x' }), 'x_BAR');
  assert.equal(expandVariables('$KOREAN', { KOREAN: '한국어' }), '한국어');
});

test('a lone $ or $ before a non-name character stays literal', () => {
  assert.equal(expandVariables('cost $ 5', {}), 'cost $ 5');
  assert.equal(expandVariables('a$', {}), 'a$');
  assert.equal(expandVariables('$/x', {}), '$/x');
});

test('special parameters and positional names are single tokens', () => {
  assert.equal(expandVariables('$1abc', { 1: 'one' }), 'oneabc');
  assert.equal(expandVariables('$12x', { 12: 'twelve' }), 'twelvex');
  assert.equal(expandVariables('a$@b', {}), 'ab');
  assert.equal(expandVariables('$$x', {}), 'x');
});

test('${VAR-default} and ${VAR:-default}', () => {
  assert.deepEqual(expand('${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}', { FOO: 'xxx', BAR: '' }), {
    value: 'xxx  ccc',
    matched: ['BAR', 'FOO'],
    unmatched: ['BAZ'],
  });
  assert.deepEqual(expand('${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}', { FOO: 'xxx', BAR: '' }), {
    value: 'xxx bbb ccc',
    matched: ['BAR', 'FOO'],
    unmatched: ['BAZ'],
  });
  assert.equal(expandVariables('${FOO:-}', { FOO: 'xxx' }), 'xxx');
  assert.equal(expandVariables('${FOO:-}', {}), '');
  // The default is itself expanded and has its quotes removed.
  assert.equal(expandVariables('${FOO:-$BAR}', { BAR: 'bar' }), 'bar');
  assert.equal(expandVariables('${FOO:-"a b"}', {}), 'a b');
  assert.equal(expandVariables('${FOO:-${BAR:-nested}}', {}), 'nested');
});

test('${VAR+alt} and ${VAR:+alt}', () => {
  assert.deepEqual(expand('${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}', { FOO: 'xxx', BAR: '' }), {
    value: 'aaa bbb ',
    matched: ['BAR', 'FOO'],
    unmatched: ['BAZ'],
  });
  assert.deepEqual(expand('${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}', { FOO: 'xxx', BAR: '' }), {
    value: 'aaa  ',
    matched: ['BAR', 'FOO'],
    unmatched: ['BAZ'],
  });
  const release = 'something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz';
  assert.equal(expandVariables(release, { VERSION: 'v1.2.3', TARGETOS: 'linux', TARGETARCH: 'arm', TARGETVARIANT: 'v7' }), 'something-v1.2.3.linux-arm-v7.tar.gz');
  assert.equal(expandVariables(release, { VERSION: 'v1.2.3', TARGETOS: 'linux', TARGETARCH: 'arm64', TARGETVARIANT: '' }), 'something-v1.2.3.linux-arm64.tar.gz');
});

test('${VAR?err} and ${VAR:?err} fail with the message', () => {
  assert.equal(expandVariables('${FOO?aaa}', { FOO: 'xxx' }), 'xxx');
  assert.equal(expandVariables('${BAR?bbb}', { BAR: '' }), '');
  assert.throws(() => processWord('${BAZ?ccc}', {}), (e: unknown) => e instanceof ExpansionError && /BAZ: ccc/.test(e.message));
  assert.equal(expandVariables('${FOO:?aaa}', { FOO: 'xxx' }), 'xxx');
  assert.throws(() => processWord('${BAR:?bbb}', { BAR: '' }), /BAR: bbb/);
  assert.throws(() => processWord('${BAZ:?}', {}), /BAZ: is not allowed to be unset/);
  assert.throws(() => processWord('${BAR:?}', { BAR: '' }), /BAR: is not allowed to be empty/);
  assert.throws(() => processWord('${VAR:?message here$ARG}', { VAR: '', ARG: 'x' }), /message herex/);
  assert.throws(() => processWord('${VAR?message here$ARG}', { ARG: 'x' }), /message herex/);
  assert.equal(expandVariables('${VAR?message here$ARG}', { VAR: '', ARG: 'x' }), '');
  // The public helper reports an OcipushError with the EDOCKERFILE code.
  assert.throws(() => expandVariables('${X:?must be set}', {}), (e: unknown) => isOcipushError(e) && e.code === 'EDOCKERFILE' && /X: must be set/.test(e.message));
});

test('unsupported modifiers and malformed substitutions are errors', () => {
  for (const bad of ['${FOO=aaa}', '${FOO=:aaa}', '${FOO=}', '${FOO:#}', '${FOO:##}', '${FOO:%}', '${FOO:%%}', '${FOO//ww}', '${FOO//}']) {
    assert.throws(() => processWord(bad, { FOO: 'xxyy' }), ExpansionError, bad);
  }
  assert.throws(() => processWord('${}', {}), /bad substitution/);
  assert.throws(() => processWord('${:x}', {}), /bad substitution/);
  assert.throws(() => processWord('${FOO', {}), /missing '}'/);
  assert.throws(() => processWord('${FOO:-x', {}), /missing '}'/);
  assert.throws(() => processWord('${', {}), /missing '}'/);
  assert.throws(() => processWord('${FOO x}', {}), /unsupported modifier/);
});

test('${VAR#pattern} ${VAR##pattern} ${VAR%pattern} ${VAR%%pattern}', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['${FOO#()[]{\\}^$.\\*\\?|\\\\}', { FOO: '()[]{}^$.*?|\\x' }, 'x'],
    ['${FOO%%\\**}', { FOO: 'xx**' }, 'xx'],
    ['${FOO#*x*y}', { FOO: 'xxyy' }, 'y'],
    ['${FOO#*}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO#$BAR}', { FOO: 'xxyy', BAR: 'x' }, 'xyy'],
    ['${FOO#$BAR}', { FOO: 'xxyy', BAR: '' }, 'xxyy'],
    ['${FOO#}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO##*x}', { FOO: 'xxyy' }, 'yy'],
    ['${FOO##}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO#?\\?}', { FOO: '???y' }, '?y'],
    ['${ABC:-.}${FOO%x}${ABC:-.}', { FOO: 'xxyy' }, '.xxyy.'],
    ['${FOO%%\\**\\*}', { FOO: 'a***yy*' }, 'a'],
    ['${FOO%}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO%%$BAR}', { FOO: 'xxyy', BAR: '' }, 'xxyy'],
    ['${FOO%.*}', { FOO: 'file.tar.gz' }, 'file.tar'],
    ['${FOO%%.*}', { FOO: 'file.tar.gz' }, 'file'],
    ['${FOO#*/}', { FOO: 'a/b/c' }, 'b/c'],
    ['${FOO##*/}', { FOO: 'a/b/c' }, 'c'],
  ];
  for (const [input, env, expected] of cases) assert.equal(expandVariables(input, env), expected, input);
  assert.throws(() => processWord('${FOO#\\x}', { FOO: 'x' }), /invalid escape/);
});

test('${VAR/pattern/replacement} and ${VAR//pattern/replacement}', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}', { FOO: '/foo*/*/*.txt', NEEDLE: '\\*/' }, '/foo.*/*.txt - /foo..*.txt'],
    ['${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}', { FOO: '/tmp/tmp/bar.txt', NEEDLE: '/tmp' }, '/tmp/bar.txt - /bar.txt'],
    ['${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}', { FOO: '/a/foo/b/c.txt', NEEDLE: '/?/', REPLACEMENT: '/' }, '/foo/b/c.txt - /foo/c.txt'],
    ['${FOO/$NEEDLE/$REPLACEMENT}', { FOO: 'http://google.de', NEEDLE: 'http://', REPLACEMENT: 'https://' }, 'https://google.de'],
    ['${FOO//\\//\\/}', { FOO: '/tmp/foo.txt' }, '\\/tmp\\/foo.txt'],
    ['${FOO/$BAR/ww}', { FOO: 'xxyy', BAR: '' }, 'wwxxyy'],
    ['${FOO///}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO///}', {}, ''],
    // Go's ReplaceAll does not replace an empty match right after a match.
    ['${FOO//*/X}', { FOO: 'abc' }, 'X'],
  ];
  for (const [input, env, expected] of cases) assert.equal(expandVariables(input, env), expected, input);
});

test('single quotes suppress expansion, double quotes allow it, quotes are removed', () => {
  const env = { FOO: 'bar', SPACED: 'a  b' };
  assert.equal(expandVariables("'$FOO'", env), '$FOO');
  assert.equal(expandVariables('"$FOO"', env), 'bar');
  assert.equal(expandVariables('"${FOO}-x"', env), 'bar-x');
  assert.equal(expandVariables(`a'b c'd`, env), 'ab cd');
  assert.equal(expandVariables(`"it's"`, env), "it's");
  assert.equal(expandVariables(`'say "hi"'`, env), 'say "hi"');
  assert.equal(expandVariables('""', env), '');
  assert.equal(expandVariables('"$SPACED"', env), 'a  b');
  assert.throws(() => processWord("'open", env), /matching single-quote/);
  assert.throws(() => processWord('"open', env), /matching double-quote/);
});

test('the escape token escapes $, quotes and itself; a trailing escape is dropped', () => {
  const env = { FOO: 'bar' };
  assert.equal(expandVariables('\\$FOO', env), '$FOO');
  assert.equal(expandVariables('\\${FOO}', env), '${FOO}');
  assert.equal(expandVariables('a\\ b', env), 'a b');
  assert.equal(expandVariables('\\"', env), '"');
  assert.equal(expandVariables('\\\\', env), '\\');
  assert.equal(expandVariables('abc\\', env), 'abc');
  // Inside double quotes only ", $ and the escape itself are escapable; others keep the backslash.
  assert.equal(expandVariables('"\\$FOO"', env), '$FOO');
  assert.equal(expandVariables('"a\\nb"', env), 'a\\nb');
  assert.equal(expandVariables('"\\"q\\""', env), '"q"');
  // Inside single quotes nothing is escapable.
  assert.equal(expandVariables("'\\$FOO'", env), '\\$FOO');
});

test('a backtick escape token (# escape=`) replaces the backslash', () => {
  const env = { FOO: 'bar' };
  assert.equal(expandVariables('`$FOO', env, { escape: '`' }), '$FOO');
  assert.equal(expandVariables('C:\\path\\$FOO', env, { escape: '`' }), 'C:\\path\\bar');
  assert.equal(expandVariables('"`"x`""', env, { escape: '`' }), '"x"');
  assert.equal(expandVariables('a`', env, { escape: '`' }), 'a');
});

test('command substitution is never run: $( ) and backticks stay text', () => {
  assert.equal(expandVariables('$(id)', {}), '$(id)');
  assert.equal(expandVariables('`id`', {}), '`id`');
});

test('env accepts a Map, a record or a lookup function', () => {
  assert.equal(expandVariables('$A', new Map([['A', '1']])), '1');
  assert.equal(expandVariables('$A', { A: '2' }), '2');
  assert.equal(expandVariables('$A', (n) => (n === 'A' ? '3' : undefined)), '3');
  // Inherited object properties are not variables.
  assert.equal(expandVariables('$toString', {}), '');
});

test('word splitting: variable values split on whitespace, quoted text never does', () => {
  const env = { PORTS: '80 443/udp', EMPTY: '', ONE: 'x' };
  assert.deepEqual(expandWords('$PORTS', env), ['80', '443/udp']);
  assert.deepEqual(expandWords('"$PORTS"', env), ['80 443/udp']);
  assert.deepEqual(expandWords('a b  c', env), ['a', 'b', 'c']);
  assert.deepEqual(expandWords("'a b' c", env), ['a b', 'c']);
  assert.deepEqual(expandWords('$EMPTY', env), []);
  assert.deepEqual(expandWords('""', env), []);
  assert.deepEqual(expandWords('x$ONE y', env), ['xx', 'y']);
  assert.deepEqual(expandWords('a\\ b c', env), ['a b', 'c']);
});

test('raw modes used for heredoc detection keep quotes and escapes', () => {
  const r = processWord('"a" \\b $X', () => undefined, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  assert.equal(r.value, '"a" \\b $X');
  assert.equal(processWord('${X:-y}', () => undefined, { skipUnsetEnv: true }).value, '${X:-y}');
  assert.equal(processWord("'a'", () => undefined, { skipProcessQuotes: true }).value, "'a'");
});

test('`<<` and the blanks after it stay in one word (processPossibleHeredoc), a lone `<` is text', () => {
  assert.deepEqual(processWord('a << \tEOF b<c <<', () => undefined).words, ['a', '<< \tEOF', 'b<c', '<<']);
  assert.equal(processWord('a <<  EOF', () => undefined).value, 'a <<  EOF');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseDockerfile,
  parseTrigger,
  resolveStages,
  type AddInstruction,
  type CopyInstruction,
  type HeredocSource,
  type Instruction,
  type ResolvedInstruction,
  type RunInstruction,
} from '../../src/dockerfile/index.js';
import { isOcipushError } from '../../src/errors.js';

/**
 * Heredocs in COPY and ADD, read as BuildKit's parser (parser.go Parse, heredocsFromLine),
 * instructions package (parseSourcesAndDest) and dispatcher (SourcesAndDest.ExpandRaw) read
 * them. Expected bodies are those of frontend/dockerfile/dockerfile_heredoc_test.go.
 */

const AMD64 = { os: 'linux', architecture: 'amd64' };

function instructions(text: string): Instruction[] {
  return parseDockerfile(text).stages.flatMap((s) => s.instructions);
}

function copies(text: string): (CopyInstruction | AddInstruction)[] {
  return instructions(text).filter((i): i is CopyInstruction | AddInstruction => i.keyword === 'COPY' || i.keyword === 'ADD');
}

function fails(text: string, line: number, column: number, re: RegExp, run: (t: string) => unknown = parseDockerfile): void {
  assert.throws(
    () => run(text),
    (err: unknown) => {
      assert.ok(isOcipushError(err), `expected an OcipushError, got ${String(err)}`);
      assert.equal(err.code, 'EDOCKERFILE');
      assert.match(err.message, new RegExp(`^Dockerfile:${line}:${column}: `));
      assert.match(err.message, re);
      assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
      return true;
    },
  );
}

const heredoc = (name: string, data: string, expand = true): HeredocSource => ({ name, data, expand });

test('COPY <<EOF: one heredoc source whose body is every line up to the terminator, newlines kept', () => {
  const text = 'FROM scratch\nCOPY <<EOF /etc/app.conf\nFROM nothing\n# not a comment\n\nRUN no \\\nEOF\nCOPY a /b\n';
  const [copy, after] = copies(text);
  assert.deepEqual(copy!.sources, []);
  assert.deepEqual(copy!.heredocs, [heredoc('EOF', 'FROM nothing\n# not a comment\n\nRUN no \\\n')]);
  assert.equal(copy!.dest, '/etc/app.conf');
  assert.deepEqual([copy!.line, copy!.endLine], [2, 7]);
  // The next instruction is read after the terminator, at its own line.
  assert.deepEqual([after!.sources, after!.line], [['a'], 8]);
  assert.equal(instructions(text).length, 2);
  // An empty body, and a file that ends at the terminator without a newline.
  assert.deepEqual(copies('FROM scratch\nCOPY <<EOF /e\nEOF').map((c) => c.heredocs), [[heredoc('EOF', '')]]);
});

test('several heredocs in one COPY, mixed with context sources, in ADD, with flags and continuations', () => {
  const [copy] = copies('FROM scratch\nCOPY --chmod=755 a.txt <<a.sh <<"b.txt" b/ \\\n  /dir/\n#!/bin/sh\na.sh\nraw\nb.txt\n');
  assert.deepEqual(copy!.sources, ['a.txt', 'b/']);
  assert.deepEqual(copy!.heredocs, [heredoc('a.sh', '#!/bin/sh\n'), heredoc('b.txt', 'raw\n', false)]);
  assert.deepEqual([copy!.dest, copy!.chmod], ['/dir/', '755']);
  const [add] = copies('FROM scratch\nADD --chown=1:2 <<EOF /x\nbody\nEOF\n');
  assert.deepEqual([add!.keyword, add!.heredocs, add!.chown], ['ADD', [heredoc('EOF', 'body\n')], '1:2']);
  // Two heredocs of one name: BuildKit looks bodies up by name, so both get the last.
  assert.deepEqual(copies('FROM scratch\nCOPY <<EOF <<EOF /d/\none\nEOF\ntwo\nEOF\n')[0]!.heredocs, [heredoc('EOF', 'two\n'), heredoc('EOF', 'two\n')]);
});

test('quoted terminators turn expansion off; <<- strips leading tabs from the body and the terminator', () => {
  const names = (word: string): HeredocSource[] => copies(`FROM scratch\nCOPY ${word} /x\nhi\nEOF\n`)[0]!.heredocs;
  assert.deepEqual(names('<<"EOF"'), [heredoc('EOF', 'hi\n', false)]);
  assert.deepEqual(names("<<'EOF'"), [heredoc('EOF', 'hi\n', false)]);
  assert.deepEqual(names('<<E"O"F'), [heredoc('EOF', 'hi\n', false)]);
  assert.deepEqual(names('<<EOF'), [heredoc('EOF', 'hi\n')]);
  // testHeredocIndent: `<<-` strips tabs (not spaces) at the start of each line; `<<` keeps them.
  const [kept, chomped] = copies('FROM scratch\nCOPY <<EOF /foo\n\tfoo\nEOF\nCOPY <<-EOF /bar\n\t\tbar\n  sp\n\tEOF\nCOPY a b\n');
  assert.deepEqual(kept!.heredocs, [heredoc('EOF', '\tfoo\n')]);
  assert.deepEqual(chomped!.heredocs, [heredoc('EOF', 'bar\n  sp\n')]);
  // Without `-`, a tabbed terminator is a line of the body.
  assert.deepEqual(copies('FROM scratch\nCOPY <<EOF /x\n\tEOF\nEOF\n')[0]!.heredocs, [heredoc('EOF', '\tEOF\n')]);
});

test('CRLF Dockerfiles: the body keeps its line endings, the terminator matches without them', () => {
  assert.deepEqual(copies('FROM scratch\r\nCOPY <<EOF /x\r\na\r\nEOF\r\nCOPY y z\r\n').map((c) => [c.heredocs, c.sources]), [
    [[heredoc('EOF', 'a\r\n')], []],
    [[], ['y']],
  ]);
});

test('what is not a heredoc source: JSON form, `<< EOF`, << inside a word or quoted, a heredoc RUN', () => {
  // JSON form reads no body; BuildKit still makes the word a source, with an empty body.
  const json = instructions('FROM scratch\nCOPY ["<<EOF", "/x"]\nCOPY a b\n');
  assert.deepEqual(json.map((i) => (i as CopyInstruction).heredocs), [[heredoc('EOF', '')], []]);
  // `<< EOF` is one heredoc word to the parser (its body is read), two plain sources to COPY.
  const [spaced, next] = copies('FROM scratch\nCOPY << EOF /x\nbody\nEOF\nCOPY a b\n');
  assert.deepEqual([spaced!.sources, spaced!.heredocs, next!.line], [['<<', 'EOF'], [], 5]);
  assert.deepEqual(copies('FROM scratch\nCOPY a<<b "<<c" /x\n')[0]!.sources, ['a<<b', '"<<c"']);
  // RUN reads its heredocs' bodies too (building it is refused later, as every RUN is).
  const run = instructions('FROM scratch\nRUN <<-"EOT" sh\necho hi\n\tEOT\nCOPY a b\n');
  assert.deepEqual(run.map((i) => [i.keyword, i.line]), [['RUN', 2], ['COPY', 5]]);
  assert.deepEqual((run[0] as RunInstruction).args, ['<<-"EOT" sh']);
  // `# escape=`` does not change how heredoc words are read.
  assert.deepEqual(copies('# escape=`\nFROM scratch\nCOPY <<EOF /x\n\\\nEOF\n')[0]!.heredocs, [heredoc('EOF', '\\\n')]);
});

test('errors: an unterminated heredoc names its line, a heredoc destination is refused', () => {
  fails('FROM scratch\nCOPY a \\\n <<EOF /x\nbody\nEOF2\n', 3, 2, /unterminated heredoc <<EOF: no line "EOF" ends it before the end of the file/);
  fails('FROM scratch\nCOPY <<a <<b /x\na\nb-not\n', 2, 10, /unterminated heredoc <<b/);
  fails('FROM scratch\nCOPY a <<EOF\nx\nEOF\n', 2, 1, /COPY cannot accept a heredoc as a destination/);
  fails('FROM scratch\nADD <<EOF <<EOF2\nx\nEOF\nEOF2\n', 2, 1, /ADD cannot accept a heredoc as a destination/);
});

test('ONBUILD COPY <<EOF: the expression holds the body and terminator, and the trigger reads it back', () => {
  const [onbuild] = instructions('FROM scratch\nONBUILD COPY <<EOF /x\nhello\nEOF\nCOPY a b\n');
  const expression = (onbuild as Instruction & { expression: string }).expression;
  assert.equal(expression, 'COPY <<EOF /x\nhello\nEOF');
  const trigger = parseTrigger(expression, { keyword: 'FROM', original: 'FROM base', line: 1, column: 1, endLine: 1 });
  assert.deepEqual((trigger as CopyInstruction).heredocs, [heredoc('EOF', 'hello\n')]);
});

function resolvedCopies(text: string, buildArgs: Record<string, string> = {}): { data: string[]; warnings: string[] } {
  const r = resolveStages(parseDockerfile(text), { targetPlatform: AMD64, buildArgs });
  const data = r.target.instructions
    .filter((i): i is Extract<ResolvedInstruction, { keyword: 'COPY' | 'ADD' }> => i.keyword === 'COPY' || i.keyword === 'ADD')
    .flatMap((c) => c.heredocs.map((h) => h.data));
  return { data, warnings: r.warnings.map((w) => w.message) };
}

test('unquoted bodies expand ARG and ENV as BuildKit ExpandRaw does; quoted ones are kept as written', () => {
  // testHeredocVarSubstitution.
  const body = (word: string, line: string): string => `COPY ${word} /d/x\n${line}\nEOF\n`;
  const text = [
    'FROM scratch\nARG name=world\n',
    body('<<EOF', 'Hello ${name}!'), body("<<'EOF'", 'Hello ${name}!'), body('<<"EOF"', 'Hello ${name}!'),
    body('<<EOF', "Hello '${name}'!"), body('<<EOF', 'Hello "${name}"!'),
    body("<<'EOF'", "Hello '${name}'!"), body('<<"EOF"', 'Hello "${name}"!'),
  ].join('');
  assert.deepEqual(resolvedCopies(text).data, [
    'Hello world!\n', 'Hello ${name}!\n', 'Hello ${name}!\n',
    "Hello 'world'!\n", 'Hello "world"!\n',
    "Hello '${name}'!\n", 'Hello "${name}"!\n',
  ]);
  // testCopyHeredocSpecialSymbols: `\` escapes in expanded bodies (and is dropped), never in raw ones.
  const slashes = ['\\', '\\\\', '\\$', '"quotes in file"'];
  const expanded = slashes.map((l) => body('<<EOF', l)).join('');
  const raw = slashes.map((l) => body('<<"EOF"', l)).join('');
  assert.deepEqual(resolvedCopies(`FROM scratch\n${expanded}${raw}`).data, ['\n', '\\\n', '$\n', '"quotes in file"\n', '\\\n', '\\\\\n', '\\$\n', '"quotes in file"\n']);
  // ENV, --build-arg, an unset variable (empty, warned as BuildKit's linter does), the escape directive ignored.
  const r = resolvedCopies('# escape=`\nFROM scratch\nARG v\nENV e=env\nCOPY <<EOF /x\n$v ${e} [$unset] `$e \\$e\nEOF\n', { v: 'arg' });
  assert.deepEqual(r.data, ['arg env [] `env $e\n']);
  assert.deepEqual(r.warnings, ["Usage of undefined variable '$unset'"]);
  // `<<-` strips tabs before expansion: a tab a variable brings stays.
  assert.deepEqual(resolvedCopies('FROM scratch\nENV t="\tx"\nCOPY <<-EOF /x\n\t$t\nEOF\n').data, ['\tx\n']);
});

test('a bad substitution in a body is one line naming the instruction', () => {
  fails('FROM scratch\nCOPY <<EOF /x\na\n${v:?is required}\nEOF\n', 2, 1, /failed to process "a\\n\$\{v:\?is required\}\\n": v: is required/, (t) =>
    resolveStages(parseDockerfile(t), { targetPlatform: AMD64 }));
});

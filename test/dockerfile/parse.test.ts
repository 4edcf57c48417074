import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseDockerfile,
  runUnsupportedError,
  shellFormToExec,
  type AddInstruction,
  type ArgInstruction,
  type CommandLineInstruction,
  type CopyInstruction,
  type EnvInstruction,
  type HealthcheckInstruction,
  type Instruction,
  type LabelInstruction,
  type ParsedDockerfile,
  type RunInstruction,
  type ShellInstruction,
  type VolumeInstruction,
} from '../../src/dockerfile/index.js';
import { isOcipushError } from '../../src/errors.js';

/** The only instruction of the only stage after `FROM scratch`. */
function only<T extends Instruction>(line: string, text = `FROM scratch\n${line}\n`): T {
  const parsed = parseDockerfile(text);
  assert.equal(parsed.stages.length, 1);
  assert.equal(parsed.stages[0]!.instructions.length, 1);
  return parsed.stages[0]!.instructions[0] as T;
}

/** Asserts the Dockerfile fails with `Dockerfile:LINE:COL: <message matching re>`. */
function fails(text: string, line: number, column: number, re: RegExp, filename = 'Dockerfile'): void {
  assert.throws(
    () => parseDockerfile(text, { filename }),
    (err: unknown) => {
      assert.ok(isOcipushError(err), `expected an OcipushError, got ${String(err)}`);
      assert.equal(err.code, 'EDOCKERFILE');
      assert.match(err.message, new RegExp(`^${filename.replace(/\./g, '\\.')}:${line}:${column}: `));
      assert.match(err.message, re);
      assert.deepEqual(err.details, { line, column, path: filename });
      assert.ok(!err.message.includes('\n'), 'one line');
      return true;
    },
  );
}

function stageInstructions(parsed: ParsedDockerfile, stage = 0): Instruction[] {
  return parsed.stages[stage]!.instructions;
}

test('tutorial: python http.server Dockerfile', () => {
  const parsed = parseDockerfile('FROM python\nCOPY . /public\nWORKDIR /public\nENTRYPOINT ["python3", "-m", "http.server"]\n');
  assert.equal(parsed.stages.length, 1);
  const stage = parsed.stages[0]!;
  assert.equal(stage.baseImage, 'python');
  assert.equal(stage.name, undefined);
  assert.equal(stage.from.line, 1);
  const [copy, workdir, entrypoint] = stage.instructions;
  assert.deepEqual(
    { keyword: copy!.keyword, sources: (copy as CopyInstruction).sources, dest: (copy as CopyInstruction).dest, line: copy!.line },
    { keyword: 'COPY', sources: ['.'], dest: '/public', line: 2 },
  );
  assert.deepEqual({ keyword: workdir!.keyword, line: workdir!.line }, { keyword: 'WORKDIR', line: 3 });
  assert.equal((workdir as { path: string }).path, '/public');
  assert.deepEqual(
    { args: (entrypoint as CommandLineInstruction).args, json: (entrypoint as CommandLineInstruction).json, line: entrypoint!.line },
    { args: ['python3', '-m', 'http.server'], json: true, line: 4 },
  );
  assert.deepEqual(parsed.warnings, []);
});

test('tutorial: FROM scratch hello Dockerfile', () => {
  const parsed = parseDockerfile('FROM scratch\nCOPY ./hello ./\nENTRYPOINT ["./hello"]\n');
  const [copy, entrypoint] = stageInstructions(parsed) as [CopyInstruction, CommandLineInstruction];
  assert.equal(parsed.stages[0]!.baseImage, 'scratch');
  assert.deepEqual([copy.sources, copy.dest], [['./hello'], './']);
  assert.deepEqual([entrypoint.args, entrypoint.json], [['./hello'], true]);
});

test('parser directives: syntax, escape, check; only at the very top', () => {
  const parsed = parseDockerfile('# syntax=docker/dockerfile:1.7\n# escape=`\n# check=skip=all\nFROM scratch\n');
  assert.deepEqual(parsed.directives, { syntax: 'docker/dockerfile:1.7', escape: '`', check: 'skip=all' });
  // Spacing and key case are free; the value is kept as written.
  assert.equal(parseDockerfile('#  SYNTAX = Docker/Dockerfile:1  \nFROM scratch\n').directives.syntax, 'Docker/Dockerfile:1');
  // After an instruction, a comment or a blank line, a directive is just a comment.
  assert.equal(parseDockerfile('FROM scratch\n# escape=`\n').directives.escape, '\\');
  assert.equal(parseDockerfile('# hello\n# escape=`\nFROM scratch\n').directives.escape, '\\');
  assert.equal(parseDockerfile('\n# escape=`\nFROM scratch\n').directives.escape, '\\');
  // An unknown key ends the directives.
  assert.equal(parseDockerfile('# foo=bar\n# escape=`\nFROM scratch\n').directives.escape, '\\');
  fails('# escape=x\nFROM scratch\n', 1, 1, /invalid escape token 'x' does not match ` or \\/);
  fails('# escape=\\\n# escape=`\nFROM scratch\n', 2, 1, /only one escape parser directive can be used/);
  fails('# syntax=a\n# syntax=b\nFROM scratch\n', 2, 1, /only one syntax parser directive/);
});

test('a UTF-8 byte order mark and CRLF line endings are accepted', () => {
  const parsed = parseDockerfile('\ufeff# escape=`\r\nFROM scratch\r\nENV A=1 `\r\n  B=2\r\n');
  assert.equal(parsed.directives.escape, '`');
  const env = stageInstructions(parsed)[0] as EnvInstruction;
  assert.deepEqual(env.pairs, [{ key: 'A', value: '1' }, { key: 'B', value: '2' }]);
  assert.equal(env.line, 3);
  assert.equal(env.endLine, 4);
});

test('comments are whole lines starting with #; # inside an instruction is text', () => {
  const parsed = parseDockerfile('# top\nFROM scratch\n   # indented comment\nLABEL a="b # c"\nRUN echo hi # not a comment\n');
  const [label, run] = stageInstructions(parsed) as [LabelInstruction, RunInstruction];
  assert.deepEqual(label.pairs, [{ key: 'a', value: '"b # c"' }]);
  assert.deepEqual(run.args, ['echo hi # not a comment']);
  assert.equal(label.line, 4);
  // An unquoted # after a LABEL pair is a word without "=": an error, like docker build.
  fails('FROM scratch\nLABEL a=b # not a comment\n', 2, 11, /can't find = in "#"/);
});

test('line continuations join lines; comment and empty lines inside are skipped', () => {
  const parsed = parseDockerfile(
    ['FROM scratch', 'ENV A=1 \\', '    # a comment inside the continuation', '', '    B=2 \\  ', '\tC=3', 'LABEL x=y'].join('\n'),
  );
  const [env, label] = stageInstructions(parsed) as [EnvInstruction, LabelInstruction];
  assert.deepEqual(env.pairs, [{ key: 'A', value: '1' }, { key: 'B', value: '2' }, { key: 'C', value: '3' }]);
  // Continuation lines keep their leading whitespace, as BuildKit does.
  assert.equal(env.original, 'ENV A=1     B=2 \tC=3');
  assert.deepEqual([env.line, env.endLine, label.line], [2, 6, 7]);
  assert.deepEqual(parsed.warnings, [{ rule: 'NoEmptyContinuation', message: 'Empty continuation line', line: 6 }]);
});

test('an escaped escape token at the end of a line does not continue it', () => {
  const parsed = parseDockerfile('FROM scratch\nLABEL a=b\\\\\nLABEL c=d\n');
  const labels = stageInstructions(parsed) as LabelInstruction[];
  assert.equal(labels.length, 2);
  assert.equal(labels[0]!.pairs[0]!.value, 'b\\\\');
});

test('the escape directive switches continuation and escaping to backtick', () => {
  const parsed = parseDockerfile('# escape=`\nFROM scratch\nWORKDIR C:\\app\nENV A=1 `\n    B=2\nLABEL q=a`"b\n');
  const [workdir, env, label] = stageInstructions(parsed) as [{ path: string }, EnvInstruction, LabelInstruction];
  assert.equal(workdir.path, 'C:\\app');
  assert.deepEqual(env.pairs.map((p) => p.key), ['A', 'B']);
  assert.equal(label.pairs[0]!.value, 'a`"b');
  // A trailing backslash is ordinary text under the backtick escape.
  const p2 = parseDockerfile('# escape=`\nFROM scratch\nLABEL a=b\\\nLABEL c=d\n');
  assert.equal(stageInstructions(p2).length, 2);
});

test('a continuation running into the end of the file ends the instruction', () => {
  const parsed = parseDockerfile('FROM scratch\nLABEL a=b \\\n');
  assert.deepEqual((stageInstructions(parsed)[0] as LabelInstruction).pairs, [{ key: 'a', value: 'b' }]);
});

test('instruction keywords are case-insensitive; positions are 1-based line and column', () => {
  const parsed = parseDockerfile('from scratch AS Final\n\n   copy a /b\nEnV x=1\n');
  assert.equal(parsed.stages[0]!.name, 'final');
  const [copy, env] = stageInstructions(parsed);
  assert.deepEqual([copy!.keyword, copy!.line, copy!.column], ['COPY', 3, 4]);
  assert.deepEqual([env!.keyword, env!.line, env!.column], ['ENV', 4, 1]);
  // `EnV` is neither case: BuildKit's ConsistentInstructionCasing flags it (the majority is lower case).
  assert.deepEqual(parsed.warnings.map((w) => w.rule).sort(), ['ConsistentInstructionCasing', 'FromAsCasing', 'StageNameCasing']);
});

test('FROM forms: image, AS name, --platform; grouping into stages with global ARGs', () => {
  const parsed = parseDockerfile(
    'ARG BASE=alpine\nARG A B=2\nFROM --platform=$BUILDPLATFORM ${BASE}:3.20 AS build\nRUN make\nFROM scratch\nCOPY --from=build /out /\n',
  );
  assert.deepEqual(parsed.globalArgs.map((a) => a.args), [[{ key: 'BASE', value: 'alpine' }], [{ key: 'A' }, { key: 'B', value: '2' }]]);
  assert.equal(parsed.stages.length, 2);
  assert.deepEqual(
    parsed.stages.map((s) => ({ index: s.index, name: s.name, base: s.baseImage, platform: s.platform, count: s.instructions.length })),
    [
      { index: 0, name: 'build', base: '${BASE}:3.20', platform: '$BUILDPLATFORM', count: 1 },
      { index: 1, name: undefined, base: 'scratch', platform: undefined, count: 1 },
    ],
  );
  fails('FROM a b\n', 1, 6, /FROM requires either one or three arguments/);
  fails('FROM\n', 1, 1, /FROM requires either one or three arguments/);
  fails('FROM a AS 1bad\n', 1, 11, /invalid name for build stage: "1bad"/);
  fails('FROM a AS b$c\n', 1, 11, /invalid name for build stage/);
  fails('FROM --plaform=x a\n', 1, 6, /unknown flag: --plaform \(FROM accepts --platform\)/);
});

test('only ARG may come before the first FROM; a Dockerfile needs a FROM and an instruction', () => {
  fails('ENV A=1\nFROM scratch\n', 1, 1, /no build stage in current context: ENV must come after FROM/);
  fails('ARG A\n', 1, 1, /no stages to build/);
  fails('', 1, 1, /file with no instructions/);
  fails('# only a comment\n\n', 2, 1, /file with no instructions/);
});

test('unknown instructions name the keyword as written, suggest the known one, carry line and column', () => {
  fails('FROM scratch\n\nCOPPY a b\n', 3, 1, /unknown instruction "COPPY" \(did you mean "COPY"\?\)$/);
  fails('FROM scratch\n  Entrypiont ["x"]\n', 2, 3, /unknown instruction "Entrypiont" \(did you mean "ENTRYPOINT"\?\)/);
  fails('FROM scratch\nFOOBARBAZ x\n', 2, 1, /unknown instruction "FOOBARBAZ"$/);
  fails('FROM scratch\nX\n', 2, 1, /unknown instruction "X"$/, 'app.Dockerfile');
});

test('ARG: one or more names, optional defaults with quotes kept for expansion', () => {
  const arg = only<ArgInstruction>('ARG A B=2 C="x y" D=');
  assert.deepEqual(arg.args, [{ key: 'A' }, { key: 'B', value: '2' }, { key: 'C', value: '"x y"' }, { key: 'D', value: '' }]);
  fails('FROM scratch\nARG\n', 2, 1, /ARG requires at least one argument/);
  fails('FROM scratch\nARG =x\n', 2, 5, /ARG names can not be blank/);
  fails('FROM scratch\nARG --x A\n', 2, 5, /unknown flag: --x \(ARG takes no flags\)/);
});

test('ENV: key=value pairs with quotes, the legacy "ENV key value" form, and its errors', () => {
  const env = only<EnvInstruction>('ENV k=v k2="v 2" k3=v\\ 3 k4=');
  assert.deepEqual(env.pairs, [
    { key: 'k', value: 'v' },
    { key: 'k2', value: '"v 2"' },
    { key: 'k3', value: 'v\\ 3' },
    { key: 'k4', value: '' },
  ]);
  assert.equal(env.legacy, false);
  const legacy = parseDockerfile('FROM scratch\nENV MY_VAR my value  here\n');
  const l = stageInstructions(legacy)[0] as EnvInstruction;
  assert.deepEqual([l.pairs, l.legacy], [[{ key: 'MY_VAR', value: 'my value  here' }], true]);
  // LegacyKeyValueFormat is a dispatch check, for the stages a build needs (resolve.test.ts).
  assert.deepEqual(legacy.warnings, []);
  fails('FROM scratch\nENV a=1 b\n', 2, 9, /Syntax error - can't find = in "b". Must be of the form: name=value/);
  fails('FROM scratch\nENV onlykey\n', 2, 1, /ENV must have two arguments/);
  fails('FROM scratch\nENV\n', 2, 1, /ENV requires at least one argument/);
  fails('FROM scratch\nENV =x\n', 2, 5, /ENV names can not be blank/);
});

test('LABEL: pairs like ENV, keys may be quoted', () => {
  const label = only<LabelInstruction>('LABEL "com.example.vendor"="ACME Inc" version=1.0 description="a \\"b\\""');
  assert.deepEqual(label.pairs, [
    { key: '"com.example.vendor"', value: '"ACME Inc"' },
    { key: 'version', value: '1.0' },
    { key: 'description', value: '"a \\"b\\""' },
  ]);
});

test('EXPOSE, USER, WORKDIR, STOPSIGNAL, MAINTAINER', () => {
  assert.deepEqual(only<Instruction & { ports: string[] }>('EXPOSE 80 443/udp 8080/tcp').ports, ['443/udp', '80', '8080/tcp']);
  assert.equal(only<Instruction & { user: string }>('USER app:app').user, 'app:app');
  assert.equal(only<Instruction & { user: string }>('USER a b').user, 'a b');
  assert.equal(only<Instruction & { path: string }>('WORKDIR /srv/app dir').path, '/srv/app dir');
  assert.equal(only<Instruction & { signal: string }>('STOPSIGNAL SIGQUIT').signal, 'SIGQUIT');
  const m = parseDockerfile('FROM scratch\nMAINTAINER Jane <jane@example.com>\n');
  assert.equal((stageInstructions(m)[0] as Instruction & { maintainer: string }).maintainer, 'Jane <jane@example.com>');
  assert.deepEqual(m.warnings.map((w) => w.rule), ['MaintainerDeprecated']);
  fails('FROM scratch\nEXPOSE\n', 2, 1, /EXPOSE requires at least one argument/);
  fails('FROM scratch\nUSER\n', 2, 1, /USER requires exactly one argument/);
  fails('FROM scratch\nWORKDIR\n', 2, 1, /WORKDIR requires exactly one argument/);
  fails('FROM scratch\nSTOPSIGNAL\n', 2, 1, /STOPSIGNAL requires exactly one argument/);
  fails('FROM scratch\nUSER --uid=1 app\n', 2, 6, /unknown flag: --uid \(USER takes no flags\)/);
});

test('CMD and ENTRYPOINT: exec (JSON) form and shell form', () => {
  const exec = only<CommandLineInstruction>('CMD ["echo", "a b", "$HOME"]');
  assert.deepEqual([exec.args, exec.json], [['echo', 'a b', '$HOME'], true]);
  const shell = only<CommandLineInstruction>('ENTRYPOINT exec ./run --port "$PORT"');
  assert.deepEqual([shell.args, shell.json], [['exec ./run --port "$PORT"'], false]);
  assert.deepEqual(shellFormToExec(shell.args[0]!), ['/bin/sh', '-c', 'exec ./run --port "$PORT"']);
  assert.deepEqual(shellFormToExec('x', ['/bin/bash', '-euo', 'pipefail', '-c']), ['/bin/bash', '-euo', 'pipefail', '-c', 'x']);
  // Invalid JSON, or JSON followed by more text, is the shell form.
  assert.deepEqual(only<CommandLineInstruction>("CMD ['single', 'quotes']").args, ["['single', 'quotes']"]);
  assert.deepEqual(only<CommandLineInstruction>('CMD ["a"] extra').json, false);
  assert.deepEqual(only<CommandLineInstruction>('ENTRYPOINT []').args, []);
  assert.deepEqual(only<CommandLineInstruction>('ENTRYPOINT []').json, true);
  fails('FROM scratch\nCMD ["a", 1]\n', 2, 5, /when using JSON array syntax, arrays must be comprised of strings only/);
  fails('FROM scratch\nENTRYPOINT [null]\n', 2, 12, /arrays must be comprised of strings only/);
});

test('SHELL must be a JSON array', () => {
  assert.deepEqual(only<ShellInstruction>('SHELL ["/bin/bash", "-o", "pipefail", "-c"]').shell, ['/bin/bash', '-o', 'pipefail', '-c']);
  fails('FROM scratch\nSHELL /bin/bash -c\n', 2, 7, /SHELL requires the arguments to be in JSON form/);
  fails('FROM scratch\nSHELL []\n', 2, 1, /SHELL requires at least one argument/);
});

test('RUN is parsed (exec and shell form, --mount/--network/--security) and rejected by a helper', () => {
  const run = only<RunInstruction>('RUN --mount=type=cache,target=/root/.cache --network=none apt-get update && make');
  assert.deepEqual([run.args, run.json, run.mounts, run.network], [['apt-get update && make'], false, ['type=cache,target=/root/.cache'], 'none']);
  assert.deepEqual(only<RunInstruction>('RUN ["make", "all"]').args, ['make', 'all']);
  fails('FROM scratch\nRUN --foo=bar x\n', 2, 5, /unknown flag: --foo \(RUN accepts --mount, --network, --security\)/);
  const err = runUnsupportedError({ line: 4, column: 1 });
  assert.equal(err.code, 'EDOCKERFILE');
  assert.match(err.message, /^Dockerfile:4:1: RUN cannot be built without a container runtime: ocipush builds daemonless and never executes code/);
  assert.deepEqual(err.details, { line: 4, column: 1, path: 'Dockerfile' });
  assert.ok(!err.message.includes('\n'));
});

test('HEALTHCHECK: CMD exec and shell forms, NONE, durations and retries', () => {
  const h = only<HealthcheckInstruction>('HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1.5s --start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1');
  assert.deepEqual(h.test, ['CMD-SHELL', 'curl -f http://localhost/ || exit 1']);
  assert.deepEqual([h.interval, h.timeout, h.startPeriod, h.startInterval, h.retries], [30e9, 90e9, 1.5e9, 500e6, 3]);
  assert.deepEqual(only<HealthcheckInstruction>('HEALTHCHECK cmd ["/bin/check", "--quick"]').test, ['CMD', '/bin/check', '--quick']);
  const none = only<HealthcheckInstruction>('HEALTHCHECK NONE');
  assert.deepEqual([none.test, none.interval, none.retries], [['NONE'], 0, 0]);
  assert.equal(only<HealthcheckInstruction>('HEALTHCHECK --interval=0s CMD true').interval, 0);
  fails('FROM scratch\nHEALTHCHECK NONE x\n', 2, 18, /HEALTHCHECK NONE takes no arguments/);
  fails('FROM scratch\nHEALTHCHECK CMD\n', 2, 1, /Missing command after HEALTHCHECK CMD/);
  fails('FROM scratch\nHEALTHCHECK\n', 2, 1, /HEALTHCHECK requires at least one argument/);
  fails('FROM scratch\nHEALTHCHECK PING x\n', 2, 13, /Unknown type "PING" in HEALTHCHECK \(try CMD\)/);
  fails('FROM scratch\nHEALTHCHECK --interval=5 CMD x\n', 2, 13, /--interval: time: missing unit in duration "5"/);
  fails('FROM scratch\nHEALTHCHECK --timeout=10x CMD x\n', 2, 13, /time: unknown unit "x" in duration "10x"/);
  fails('FROM scratch\nHEALTHCHECK --interval=1us CMD x\n', 2, 13, /Interval "interval" cannot be less than 1ms/);
  fails('FROM scratch\nHEALTHCHECK --retries=-1 CMD x\n', 2, 13, /--retries cannot be negative \(-1\)/);
  fails('FROM scratch\nHEALTHCHECK --retries=x CMD x\n', 2, 13, /strconv.ParseInt: parsing "x": invalid syntax/);
  fails('FROM scratch\nHEALTHCHECK --period=1s CMD x\n', 2, 13, /unknown flag: --period/);
});

test('VOLUME: JSON array or words', () => {
  assert.deepEqual(only<VolumeInstruction>('VOLUME ["/data", "/var/log"]').volumes, ['/data', '/var/log']);
  assert.deepEqual(only<VolumeInstruction>('VOLUME /data /logs').volumes, ['/data', '/logs']);
  fails('FROM scratch\nVOLUME [" "]\n', 2, 8, /VOLUME specified can not be an empty string/);
  fails('FROM scratch\nVOLUME []\n', 2, 1, /VOLUME requires at least one argument/);
});

test('COPY: sources and destination, JSON form, and its flags', () => {
  const copy = only<CopyInstruction>('COPY --from=build --chown=app:app --chmod=0755 --link --parents --exclude=*.md --exclude=tmp a b/ /dest/');
  assert.deepEqual(
    { sources: copy.sources, dest: copy.dest, from: copy.from, chown: copy.chown, chmod: copy.chmod, link: copy.link, parents: copy.parents, exclude: copy.exclude, json: copy.json },
    { sources: ['a', 'b/'], dest: '/dest/', from: 'build', chown: 'app:app', chmod: '0755', link: true, parents: true, exclude: ['*.md', 'tmp'], json: false },
  );
  const json = only<CopyInstruction>('COPY ["my file.txt", "other", "/dest dir/"]');
  assert.deepEqual([json.sources, json.dest, json.json], [['my file.txt', 'other'], '/dest dir/', true]);
  // Words are split on whitespace only; quotes stay for expansion to remove (or reject).
  assert.deepEqual(only<CopyInstruction>('COPY "a" /b').sources, ['"a"']);
  // Flag values lose their quotes; booleans accept =true/=false.
  assert.equal(only<CopyInstruction>('COPY --chown="1000:1000" a /b').chown, '1000:1000');
  assert.equal(only<CopyInstruction>('COPY --link=false a /b').link, false);
  // A bare -- ends the flags.
  assert.deepEqual(only<CopyInstruction>('COPY -- --weird /b').sources, ['--weird']);
  fails('FROM scratch\nCOPY a\n', 2, 6, /COPY requires at least two arguments, but only one was provided. Destination could not be determined/);
  fails('FROM scratch\nCOPY --keep-git-dir a b\n', 2, 6, /unknown flag: --keep-git-dir \(COPY accepts --from, --chown, --chmod, --link, --parents, --exclude\)/);
  fails('FROM scratch\nCOPY --link=maybe a b\n', 2, 6, /expecting boolean value for flag --link, not: maybe/);
  fails('FROM scratch\nCOPY --link= a b\n', 2, 6, /missing a value on flag: --link/);
  fails('FROM scratch\nCOPY --from a b\n', 2, 6, /missing a value on flag: --from/);
  fails('FROM scratch\nCOPY --chown=1 --chown=2 a b\n', 2, 16, /duplicate flag specified: --chown/);
  fails('FROM scratch\nCOPY --from=$STAGE a b\n', 2, 6, /variable expansion is not supported for --from/);
});

test('ADD: its own flags (--keep-git-dir, --checksum, --unpack), no --from', () => {
  const add = only<AddInstruction>('ADD --keep-git-dir=true --checksum=sha256:abc --unpack=false --chmod=644 https://example.com/a.tgz /opt/');
  assert.deepEqual(
    { sources: add.sources, dest: add.dest, keepGitDir: add.keepGitDir, checksum: add.checksum, unpack: add.unpack, chmod: add.chmod },
    { sources: ['https://example.com/a.tgz'], dest: '/opt/', keepGitDir: true, checksum: 'sha256:abc', unpack: false, chmod: '644' },
  );
  assert.equal(only<AddInstruction>('ADD a.tar /x').unpack, undefined);
  fails('FROM scratch\nADD --from=x a b\n', 2, 5, /unknown flag: --from \(ADD accepts/);
});

test('ONBUILD stores the trigger text; chaining and FROM/MAINTAINER triggers are refused', () => {
  const onbuild = only<Instruction & { expression: string; trigger: string }>('ONBUILD COPY --chown=app . /app/src');
  assert.deepEqual([onbuild.expression, onbuild.trigger], ['COPY --chown=app . /app/src', 'COPY']);
  assert.equal(only<Instruction & { expression: string }>('onbuild   run make').expression, 'run make');
  fails('FROM scratch\nONBUILD ONBUILD RUN x\n', 2, 9, /Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed/);
  fails('FROM scratch\nONBUILD FROM alpine\n', 2, 9, /FROM isn't allowed as an ONBUILD trigger/);
  fails('FROM scratch\nONBUILD MAINTAINER x\n', 2, 9, /MAINTAINER isn't allowed as an ONBUILD trigger/);
  fails('FROM scratch\nONBUILD\n', 2, 1, /ONBUILD requires at least one argument/);
});

test('not heredocs: JSON form, << inside a word, quoted, outside RUN/COPY/ADD (heredoc.test.ts has the rest)', () => {
  assert.deepEqual(only<RunInstruction>('RUN ["cat", "<<EOF"]').args, ['cat', '<<EOF']);
  assert.deepEqual(only<RunInstruction>('RUN echo a<<b').args, ['echo a<<b']);
  assert.deepEqual(only<RunInstruction>('RUN echo "<<EOF"').args, ['echo "<<EOF"']);
  assert.equal(only<LabelInstruction>('LABEL a=<<EOF').pairs[0]!.value, '<<EOF');
});

test('stage-level warnings: duplicate and reserved stage names (a repeated CMD is a dispatch check: resolve.test.ts)', () => {
  const parsed = parseDockerfile('FROM scratch AS a\nCMD ["a"]\nCMD ["b"]\nFROM scratch AS a\nFROM scratch AS context\n');
  assert.deepEqual(
    parsed.warnings.map((w) => [w.rule, w.line]),
    [
      ['DuplicateStageName', 4],
      ['ReservedStageName', 5],
    ],
  );
});

test('the filename option names the file in errors', () => {
  fails('FROM scratch\nBAD\n', 2, 1, /unknown instruction "BAD"/, 'build/Dockerfile.prod');
});

test('a # syntax= naming another frontend is reported: ocipush reads the standard syntax', () => {
  for (const standard of ['docker/dockerfile:1', 'docker/dockerfile:1.7-labs', 'docker.io/docker/dockerfile-upstream:master', `docker/dockerfile@sha256:${'a'.repeat(64)}`]) {
    assert.deepEqual(parseDockerfile(`# syntax=${standard}\nFROM scratch\n`).warnings, [], standard);
  }
  const custom = parseDockerfile('# syntax=example.com/my/frontend:2\nFROM scratch\n');
  assert.deepEqual(custom.warnings.map((w) => w.rule), ['SyntaxDirectiveIgnored']);
  assert.match(custom.warnings[0]!.message, /example\.com\/my\/frontend:2/);
});

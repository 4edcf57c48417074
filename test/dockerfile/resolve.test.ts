import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_PATH,
  parseDockerfile,
  parseDockerignore,
  platformArgs,
  resolveBaseImages,
  resolveStages,
  type ResolveOptions,
  type ResolvedDockerfile,
  type ResolvedInstruction,
  type ResolvedStage,
} from '../../src/dockerfile/index.js';
import { isOcipushError } from '../../src/errors.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };

function resolve(text: string, options: ResolveOptions = {}): ResolvedDockerfile {
  return resolveStages(parseDockerfile(text), { targetPlatform: AMD64, ...options });
}

type Of<K extends string> = Extract<ResolvedInstruction, { keyword: K }> extends never
  ? Extract<ResolvedInstruction, { keyword: 'CMD' | 'ENTRYPOINT' }>
  : Extract<ResolvedInstruction, { keyword: K }>;

function find<K extends ResolvedInstruction['keyword']>(stage: ResolvedStage, keyword: K, nth = 0): Of<K> {
  const found = stage.instructions.filter((i) => i.keyword === keyword);
  assert.ok(found[nth], `no ${keyword} #${nth}`);
  return found[nth] as Of<K>;
}

function fails(text: string, options: ResolveOptions, line: number, column: number, re: RegExp): void {
  assert.throws(
    () => resolve(text, options),
    (err: unknown) => {
      assert.ok(isOcipushError(err), String(err));
      assert.equal(err.code, 'EDOCKERFILE');
      assert.match(err.message, new RegExp(`^Dockerfile:${line}:${column}: `));
      assert.match(err.message, re);
      return true;
    },
  );
}

test('tutorial Dockerfiles resolve to what docker build puts in the config', () => {
  const python = resolve('FROM python\nCOPY . /public\nWORKDIR /public\nENTRYPOINT ["python3", "-m", "http.server"]\n', {
    baseImageConfig: () => ({ env: ['PATH=/usr/local/bin:/usr/bin', 'LANG=C.UTF-8', 'PYTHON_VERSION=3.13.1'], workingDir: '' }),
  });
  const t = python.target;
  assert.deepEqual(t.base, { kind: 'image', image: 'python' });
  assert.deepEqual(find(t, 'COPY').sources, ['.']);
  assert.equal(find(t, 'COPY').dest, '/public');
  assert.equal(find(t, 'WORKDIR').absolutePath, '/public');
  assert.deepEqual(find(t, 'ENTRYPOINT').exec, ['python3', '-m', 'http.server']);
  assert.deepEqual(t.env, ['PATH=/usr/local/bin:/usr/bin', 'LANG=C.UTF-8', 'PYTHON_VERSION=3.13.1']);
  assert.equal(t.workingDir, '/public');

  const hello = resolve('FROM scratch\nCOPY ./hello ./\nENTRYPOINT ["./hello"]\n');
  assert.deepEqual(hello.target.base, { kind: 'scratch' });
  assert.deepEqual(find(hello.target, 'ENTRYPOINT').exec, ['./hello']);
  // BuildKit always sets PATH.
  assert.deepEqual(hello.target.env, [`PATH=${DEFAULT_PATH}`]);
  assert.deepEqual(hello.warnings, []);
});

test('global ARGs feed FROM; a stage must redeclare an ARG to use it', () => {
  const text = 'ARG BASE=alpine\nARG TAG=3.20\nFROM ${BASE}:${TAG}\nLABEL tag=$TAG base=${BASE}\nARG TAG\nLABEL tag2=$TAG\n';
  const r = resolve(text);
  assert.equal(r.target.baseImage, 'alpine:3.20');
  assert.deepEqual(find(r.target, 'LABEL', 0).pairs, [{ key: 'tag', value: '' }, { key: 'base', value: '' }]);
  assert.deepEqual(find(r.target, 'ARG').args, [{ key: 'TAG', value: '3.20' }]);
  assert.deepEqual(find(r.target, 'LABEL', 1).pairs, [{ key: 'tag2', value: '3.20' }]);
  assert.deepEqual(r.warnings.map((w) => [w.rule, w.message, w.line]), [
    ['UndefinedVar', "Usage of undefined variable '$TAG'", 4],
    ['UndefinedVar', "Usage of undefined variable '$BASE'", 4],
  ]);
  assert.equal(r.globalArgs.BASE, 'alpine');
});

test('--build-arg overrides global and stage defaults; unknown build args are reported', () => {
  const text = 'ARG TAG=3.20\nFROM alpine:$TAG\nARG MODE=dev\nARG TAG\nENV MODE=$MODE TAG=$TAG\n';
  const r = resolve(text, { buildArgs: { TAG: '3.19', MODE: 'prod', NOPE: 'x', HTTP_PROXY: 'http://proxy' } });
  assert.equal(r.target.baseImage, 'alpine:3.19');
  assert.deepEqual(find(r.target, 'ENV').pairs, [{ key: 'MODE', value: 'prod' }, { key: 'TAG', value: '3.19' }]);
  assert.deepEqual(r.warnings, [{ rule: 'UnusedBuildArg', message: 'one or more build-args [NOPE] were not consumed' }]);
  // A Map works too, and build arg values are used as given (not expanded).
  const m = resolve('FROM scratch\nARG A\nLABEL a=$A\n', { buildArgs: new Map([['A', '$HOME']]) });
  assert.deepEqual(find(m.target, 'LABEL').pairs, [{ key: 'a', value: '$HOME' }]);
});

test('an ARG default is expanded with the stage environment; ARG without value stays unset', () => {
  const r = resolve('FROM scratch\nENV V=1\nARG X=v$V\nARG Y\nLABEL x=$X y=${Y:-unset}\n');
  assert.deepEqual(find(r.target, 'ARG', 0).args, [{ key: 'X', value: 'v1' }]);
  assert.deepEqual(find(r.target, 'ARG', 1).args, [{ key: 'Y' }]);
  assert.deepEqual(find(r.target, 'LABEL').pairs, [{ key: 'x', value: 'v1' }, { key: 'y', value: 'unset' }]);
  // A declared but unset ARG is not an undefined variable.
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(r.target.args, { X: 'v1' });
});

test('ENV expands every pair against the environment before the instruction', () => {
  const r = resolve('FROM scratch\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n');
  assert.deepEqual(find(r.target, 'ENV', 1).pairs, [{ key: 'abc', value: 'bye' }, { key: 'def', value: 'hello' }]);
  assert.deepEqual(find(r.target, 'ENV', 2).pairs, [{ key: 'ghi', value: 'bye' }]);
  assert.deepEqual(r.target.env, [`PATH=${DEFAULT_PATH}`, 'abc=bye', 'def=hello', 'ghi=bye']);
});

test('ENV keys and values lose quotes; the legacy form keeps its spaces; PATH can be extended', () => {
  const r = resolve('FROM scratch\nENV "A"="x y" B=\'$NOPE\' C=a\\ b\nENV PATH=/app/bin:$PATH\nENV LEG value with  spaces\n');
  assert.deepEqual(find(r.target, 'ENV', 0).pairs, [{ key: 'A', value: 'x y' }, { key: 'B', value: '$NOPE' }, { key: 'C', value: 'a b' }]);
  assert.deepEqual(r.target.env, [`PATH=/app/bin:${DEFAULT_PATH}`, 'A=x y', 'B=$NOPE', 'C=a b', 'LEG=value with  spaces']);
});

test('ENV after ARG of the same name wins for expansion and is the only one in the config', () => {
  const r = resolve('FROM scratch\nARG V=from-arg\nENV V=from-env\nLABEL v=$V\n', { buildArgs: { V: 'cli' } });
  assert.deepEqual(find(r.target, 'LABEL').pairs, [{ key: 'v', value: 'from-env' }]);
  assert.deepEqual(r.target.env, [`PATH=${DEFAULT_PATH}`, 'V=from-env']);
});

test('variables from the base image config are visible; PATH is kept when the base sets it', () => {
  const r = resolve('FROM node:22\nWORKDIR /srv/$NODE_VERSION\nCOPY --chown=$UID . .\n', {
    baseImageConfig: ({ image }) => (image === 'node:22' ? { env: ['NODE_VERSION=22.1.0', 'PATH=/node/bin'], workingDir: '/home' } : undefined),
  });
  assert.equal(find(r.target, 'WORKDIR').absolutePath, '/srv/22.1.0');
  assert.equal(find(r.target, 'COPY').chown, undefined);
  assert.deepEqual(r.target.env, ['NODE_VERSION=22.1.0', 'PATH=/node/bin']);
  assert.deepEqual(r.warnings.map((w) => w.rule), ['UndefinedVar']);
});

test('WORKDIR: relative paths join the previous one (or the base image\'s); absolute paths are kept', () => {
  const r = resolve('FROM base\nWORKDIR a\nWORKDIR b/../c\nWORKDIR /abs/\nWORKDIR d\n', { baseImageConfig: () => ({ workingDir: '/root' }) });
  assert.deepEqual(
    r.target.instructions.map((i) => (i as Extract<ResolvedInstruction, { keyword: 'WORKDIR' }>).absolutePath),
    ['/root/a', '/root/a/c', '/abs/', '/abs/d'],
  );
  assert.deepEqual(r.warnings.map((w) => [w.rule, w.line]), [['WorkdirRelativePath', 2]]);
});

test('COPY and ADD expand sources, destination, --chown and --chmod; --exclude is kept as written, as BuildKit does', () => {
  const r = resolve(
    'FROM scratch\nARG APP=web MODE=0640 OWNER=1000\nCOPY --chown=$OWNER:$OWNER --chmod=$MODE --exclude=$APP/*.md ${APP}/ "/srv/$APP-dir/"\nADD ["$APP.tar", "/opt/${APP}/"]\n',
  );
  const copy = find(r.target, 'COPY');
  assert.deepEqual(
    { sources: copy.sources, dest: copy.dest, chown: copy.chown, chmod: copy.chmod, exclude: copy.exclude },
    { sources: ['web/'], dest: '/srv/web-dir/', chown: '1000:1000', chmod: '0640', exclude: ['$APP/*.md'] },
  );
  // (BuildKit's CopyCommand.Expand and AddCommand.Expand never touch ExcludePatterns: a quote
  // in one is a plain character too, and nothing is reported as an undefined variable.)
  const quoted = resolve('FROM scratch\nCOPY --exclude="it\'s" --exclude=${NOPE} . /x/\n');
  assert.deepEqual(find(quoted.target, 'COPY').exclude, ["it's", '${NOPE}']);
  assert.deepEqual(quoted.warnings, []);
  const add = find(r.target, 'ADD');
  assert.deepEqual([add.sources, add.dest], [['web.tar'], '/opt/web/']);
  // --from is never expanded; a quote in a JSON source is still processed like docker does.
  fails("FROM scratch\nCOPY [\"it's\", \"/x\"]\n", {}, 2, 1, /unexpected end of statement while looking for matching single-quote/);
});

test('COPY/ADD validation: octal or symbolic --chmod, no URLs for COPY, --checksum only for one HTTP source', () => {
  // A symbolic mode is accepted, as BuildKit's dispatchCopy does; a bad one is a syntax error.
  assert.equal(find(resolve('FROM scratch\nCOPY --chmod=u+x a /b\n').target, 'COPY').chmod, 'u+x');
  fails('FROM scratch\nCOPY --chmod=u+q a /b\n', {}, 2, 1, /invalid chmod parameter: 'u\+q': invalid syntax/);
  fails('FROM scratch\nCOPY --chmod=9 a /b\n', {}, 2, 1, /invalid chmod parameter: '9'. it should be octal string and between 0 and 07777/);
  fails('FROM scratch\nARG M=10000\nCOPY --chmod=$M a /b\n', {}, 3, 1, /invalid chmod parameter: '10000'/);
  fails('FROM scratch\nCOPY https://example.com/x /x\n', {}, 2, 1, /source can't be a URL for COPY/);
  const sum = `sha256:${'a'.repeat(64)}`;
  const ok = resolve(`FROM scratch\nADD --checksum=${sum} https://example.com/x.tgz /x\n`);
  assert.equal(find(ok.target, 'ADD').checksum, sum);
  fails(`FROM scratch\nADD --checksum=${sum} a b /x/\n`, {}, 2, 1, /checksum can't be specified for multiple sources/);
  fails(`FROM scratch\nADD --checksum=${sum} local.tgz /x\n`, {}, 2, 1, /checksum requires HTTP\(S\) or Git sources/);
  fails('FROM scratch\nADD --checksum=sha256:abc https://e.com/x /x\n', {}, 2, 1, /invalid checksum digest length/);
  // BuildKit's order: one source, then its kind, then (HTTP only) the digest. A Git source's
  // checksum is a commit, not a digest.
  fails('FROM scratch\nADD --checksum=sha256:abc local.tgz /x\n', {}, 2, 1, /checksum requires HTTP\(S\) or Git sources/);
  fails('FROM scratch\nADD --checksum=nope a b /x/\n', {}, 2, 1, /checksum can't be specified for multiple sources/);
  for (const git of ['https://github.com/moby/buildkit.git#v0.20.0', 'git@github.com:moby/buildkit.git', 'ssh://git@example.com/r.git']) {
    assert.equal(find(resolve(`FROM scratch\nADD --checksum=4e53398 ${git} /src\n`).target, 'ADD').checksum, '4e53398');
  }
  fails('FROM scratch\nADD --checksum=md5:abc https://e.com/x /x\n', {}, 2, 1, /unsupported digest algorithm/);
  // BuildKit's isHTTPSource is a lower-case prefix test: HTTPS://… is a local path, so COPY takes
  // it and a checksum needs a URL.
  assert.deepEqual(find(resolve('FROM scratch\nCOPY HTTPS://example.com/x /x\n').target, 'COPY').sources, ['HTTPS://example.com/x']);
  fails(`FROM scratch\nADD --checksum=${sum} HTTPS://example.com/x.tgz /x\n`, {}, 2, 1, /checksum requires HTTP\(S\) or Git sources/);
});

test('CopyIgnoredFile checks the sources copied from the context: an upper-case scheme is one, a git ref of any user is not', () => {
  const dockerignore = parseDockerignore('HTTPS:\nhttps:\ndeploy@git.example.com:team\n');
  const { warnings } = resolve('FROM scratch\nADD HTTPS://example.com/f /a\nADD https://example.com/f /b\nADD deploy@git.example.com:team/app.git /c\n', { dockerignore });
  assert.deepEqual(
    warnings.filter((w) => w.rule === 'CopyIgnoredFile').map((w) => [w.line, w.message]),
    [[2, 'Attempting to Add file "HTTPS:/example.com/f" that is excluded by .dockerignore']],
  );
});

test('COPY --from names a stage (any case), a stage index, or an image', () => {
  const r = resolve('FROM alpine AS Build\nFROM scratch AS two\nCOPY --from=BUILD /a /a\nCOPY --from=0 /b /b\nCOPY --from=busybox:1.36 /bin/sh /sh\n');
  const t = r.target;
  assert.deepEqual(
    t.instructions.map((i) => {
      const c = i as Extract<ResolvedInstruction, { keyword: 'COPY' }>;
      return [c.fromStage, c.fromImage];
    }),
    [[0, undefined], [0, undefined], [undefined, 'busybox:1.36']],
  );
  assert.deepEqual(r.stages.map((s) => s.index), [0, 1]);
  fails('FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\n', { target: 'a' }, 2, 1, /cannot copy from stage "b", it needs to be defined before current stage "a"/);
  fails('FROM scratch AS a\nCOPY --from=a /x /x\n', {}, 2, 1, /circular dependency detected on stage: a/);
  fails('FROM scratch\nCOPY --from=5 /x /x\n', {}, 2, 1, /invalid stage index 5/);
});

test('only the stages the target needs are resolved; errors elsewhere do not matter', () => {
  const text = [
    'FROM alpine AS base',
    'ENV A=1',
    'FROM base AS dev',
    'LABEL broken=${oops',
    'FROM golang AS tools',
    'FROM base AS final',
    'COPY --from=tools /go/bin/x /x',
  ].join('\n');
  const r = resolve(text);
  assert.deepEqual(r.stages.map((s) => s.name), ['base', 'tools', 'final']);
  assert.equal(r.target.name, 'final');
  assert.deepEqual(r.target.base, { kind: 'stage', index: 0 });
  assert.deepEqual(resolveBaseImages(parseDockerfile(text), { targetPlatform: AMD64 }), [
    { stageIndex: 0, image: 'alpine' },
    { stageIndex: 2, image: 'golang' },
  ]);
  fails(text, { target: 'DEV' }, 4, 1, /failed to process "\$\{oops": syntax error: missing '}'/);
  fails(text, { target: 'nope' }, 6, 1, /target stage "nope" could not be found \(stages: base, dev, tools, final\)/);
});

test('LegacyKeyValueFormat and MultipleInstructionsDisallowed: only in the stages the target needs, each stage its own count (BuildKit dispatch checks)', () => {
  const text = 'FROM scratch AS a\nENV K v\nCMD ["a"]\nCMD ["b"]\nHEALTHCHECK NONE\nFROM a AS b\nCMD ["c"]\nHEALTHCHECK NONE\nFROM scratch AS c\n';
  const rules = (target: string): [string, number | undefined][] => resolve(text, { target }).warnings.map((w) => [w.rule, w.line]);
  assert.deepEqual(rules('c'), []);
  assert.deepEqual(rules('b'), [['LegacyKeyValueFormat', 2], ['MultipleInstructionsDisallowed', 3]]);
});

test('a stage built FROM another inherits its environment, ARGs, working directory, user and shell', () => {
  const r = resolve(
    'FROM scratch AS base\nARG LEVEL=3\nENV HOME=/home/app\nWORKDIR /app\nUSER app\nSHELL ["/bin/bash", "-c"]\nFROM base\nLABEL level=$LEVEL home=$HOME\nCMD run --level $LEVEL\n',
  );
  const t = r.target;
  assert.deepEqual(find(t, 'LABEL').pairs, [{ key: 'level', value: '3' }, { key: 'home', value: '/home/app' }]);
  assert.deepEqual([t.workingDir, t.user, t.shell], ['/app', 'app', ['/bin/bash', '-c']]);
  assert.deepEqual(find(t, 'CMD').exec, ['/bin/bash', '-c', 'run --level $LEVEL']);
  assert.deepEqual(t.env, [`PATH=${DEFAULT_PATH}`, 'HOME=/home/app']);
  // No JSONArgsRecommended warning once a SHELL is set.
  assert.deepEqual(r.warnings, []);
});

test('ONBUILD triggers of a base stage or a base image run first, positioned at FROM', () => {
  const fromStage = resolve('FROM scratch AS base\nONBUILD ENV FROM_BASE=1\nONBUILD COPY . /src\nFROM base\nLABEL x=$FROM_BASE\n');
  const t = fromStage.target;
  assert.deepEqual(t.instructions.map((i) => [i.keyword, i.fromOnBuild ?? false, i.line]), [
    ['ENV', true, 4],
    ['COPY', true, 4],
    ['LABEL', false, 5],
  ]);
  assert.deepEqual(find(t, 'LABEL').pairs, [{ key: 'x', value: '1' }]);

  const fromImage = resolve('FROM builder:1\nLABEL y=$Y\n', { baseImageConfig: () => ({ onBuild: ['ARG Y=7', 'COPY app /app'] }) });
  assert.deepEqual(fromImage.target.instructions.map((i) => i.keyword), ['ARG', 'COPY', 'LABEL']);
  assert.deepEqual(find(fromImage.target, 'LABEL').pairs, [{ key: 'y', value: '7' }]);
  fails('FROM builder:1\n', { baseImageConfig: () => ({ onBuild: ['BOGUS x'] }) }, 1, 1, /ONBUILD BOGUS x: unknown instruction "BOGUS"/);
});

test('FROM and --platform expand global ARGs and the automatic platform ARGs', () => {
  const r = resolve('ARG VARIANT\nFROM --platform=$BUILDPLATFORM golang:1.23 AS build\nFROM alpine:${VARIANT:-3.20}-$TARGETARCH\n', {
    targetPlatform: { os: 'linux', architecture: 'arm', variant: 'v7' },
    buildPlatform: AMD64,
  });
  assert.deepEqual([r.stages[0], r.target].map((s) => s?.platform), [undefined, undefined]);
  assert.equal(r.target.baseImage, 'alpine:3.20-arm');
  const both = resolve('FROM --platform=$BUILDPLATFORM golang AS b\nFROM scratch\nCOPY --from=b /x /x\n', { buildPlatform: { os: 'linux', architecture: 'arm64' } });
  assert.equal(both.stages[0]!.platform, 'linux/arm64');
  assert.deepEqual(platformArgs({ os: 'linux', architecture: 'arm', variant: 'v7' }, AMD64), {
    BUILDPLATFORM: 'linux/amd64',
    BUILDOS: 'linux',
    BUILDOSVERSION: '',
    BUILDARCH: 'amd64',
    BUILDVARIANT: '',
    TARGETPLATFORM: 'linux/arm/v7',
    TARGETOS: 'linux',
    TARGETOSVERSION: '',
    TARGETARCH: 'arm',
    TARGETVARIANT: 'v7',
  });
  // Platform ARGs reach a stage only through ARG.
  const s = resolve('FROM scratch\nLABEL a=$TARGETARCH\nARG TARGETARCH\nLABEL b=$TARGETARCH\n');
  assert.deepEqual([find(s.target, 'LABEL', 0).pairs[0]!.value, find(s.target, 'LABEL', 1).pairs[0]!.value], ['', 'amd64']);
});

test('TARGETSTAGE is the target stage\'s name, as BuildKit\'s testTargetStageNameArg checks', () => {
  const text = 'FROM alpine AS base\nLABEL first=value:$TARGETSTAGE\nARG TARGETSTAGE\nLABEL second=value:$TARGETSTAGE\nFROM scratch AS foo\nCOPY --from=base /out/ /\nFROM scratch\nCOPY --from=base /out/ /\n';
  const labels = (r: ResolvedDockerfile): string[] => {
    const base = r.stages.find((st) => st.index === 0)!;
    return [find(base, 'LABEL', 0).pairs[0]!.value, find(base, 'LABEL', 1).pairs[0]!.value];
  };
  // Visible only after ARG, like the platform ARGs; --target as given, else the last stage's
  // name, else "default"; a --build-arg overrides it.
  assert.deepEqual(labels(resolve(text, { target: 'foo' })), ['value:', 'value:foo']);
  assert.deepEqual(labels(resolve(text)), ['value:', 'value:default']);
  assert.deepEqual(labels(resolve(text + 'FROM scratch AS final\nCOPY --from=base /out/ /\n')), ['value:', 'value:final']);
  assert.deepEqual(labels(resolve(text, { target: 'foo', buildArgs: { TARGETSTAGE: 'x' } })), ['value:', 'value:x']);
  assert.equal(resolve('ARG TARGETSTAGE\nFROM alpine:$TARGETSTAGE AS one\n').target.baseImage, 'alpine:one');
});

test('FROM errors and warnings: blank base name, empty platform, undeclared ARG', () => {
  fails('ARG B\nFROM $B\n', {}, 2, 1, /base name \(\$B\) should not be blank/);
  fails('ARG P\nFROM --platform=$P alpine\n', {}, 2, 1, /empty platform value from expression \$P/);
  const r = resolve('FROM alpine:${MISSING:-3}\n');
  assert.deepEqual(r.warnings, [{ rule: 'UndefinedArgInFrom', message: "FROM argument 'MISSING' is not declared", line: 1 }]);
});

test('EXPOSE: expands then splits words, normalizes protocols and ranges', () => {
  const r = resolve('FROM scratch\nARG PORTS="80 443"\nARG P=9000\nEXPOSE $PORTS 53/UDP "$P" ${P}-9002/tcp 127.0.0.1:8080:80\n');
  const e = find(r.target, 'EXPOSE');
  // BuildKit sorts the words as written, then expands each.
  assert.deepEqual(e.specs, ['9000', '80', '443', '9000-9002/tcp', '127.0.0.1:8080:80', '53/UDP']);
  // Each spec's ports in turn, a port named twice listed twice (BuildKit's psp since 98eab3257).
  assert.deepEqual(e.ports, ['9000/tcp', '80/tcp', '443/tcp', '9000/tcp', '9001/tcp', '9002/tcp', '80/tcp', '53/udp']);
  assert.deepEqual(r.warnings.map((w) => w.rule).sort(), ['ExposeInvalidFormat', 'ExposeProtoCasing']);
  fails('FROM scratch\nEXPOSE 80/xyz\n', {}, 2, 1, /invalid proto: xyz/);
  fails('FROM scratch\nEXPOSE 99999\n', {}, 2, 1, /invalid containerPort: 99999/);
  fails('FROM scratch\nEXPOSE abc\n', {}, 2, 1, /invalid containerPort: abc/);
});

test('USER, VOLUME, STOPSIGNAL, LABEL expand; STOPSIGNAL must be a signal', () => {
  const r = resolve('FROM scratch\nARG U=1000 SIG=SIGTERM V=/data\nUSER $U:$U\nVOLUME $V ${V}2 ["x"]\nSTOPSIGNAL $SIG\nLABEL "$U"=x\n');
  assert.equal(find(r.target, 'USER').user, '1000:1000');
  assert.deepEqual(find(r.target, 'VOLUME').volumes, ['/data', '/data2', '[x]']);
  assert.equal(find(r.target, 'STOPSIGNAL').signal, 'SIGTERM');
  assert.deepEqual(find(r.target, 'LABEL').pairs, [{ key: '1000', value: 'x' }]);
  assert.equal(r.target.user, '1000:1000');
  // A number is read by strconv.Atoi: any int64 but 0, exactly at the ends.
  for (const ok of ['9', 'KILL', 'sigint', 'SIGRTMIN+3', 'RTMAX-2', '+15', '9007199254740993', '9223372036854775807', '-9223372036854775808']) resolve(`FROM scratch\nSTOPSIGNAL ${ok}\n`);
  fails('FROM scratch\nSTOPSIGNAL SIGNOPE\n', {}, 2, 1, /invalid signal: SIGNOPE/);
  fails('FROM scratch\nSTOPSIGNAL 9223372036854775808\n', {}, 2, 1, /invalid signal: 9223372036854775808/);
  fails('FROM scratch\nSTOPSIGNAL -0\n', {}, 2, 1, /invalid signal: -0/);
  fails('FROM scratch\nSTOPSIGNAL 0\n', {}, 2, 1, /invalid signal: 0/);
  fails('FROM scratch\nARG E\nVOLUME $E\n', {}, 3, 1, /VOLUME specified can not be an empty string/);
});

test('CMD, ENTRYPOINT, RUN, HEALTHCHECK are never expanded; shell forms get the shell', () => {
  const r = resolve('FROM scratch\nENV X=1\nCMD echo $X\nENTRYPOINT ["sh", "-c", "echo $X"]\nHEALTHCHECK CMD test $X\n');
  assert.deepEqual(find(r.target, 'CMD').exec, ['/bin/sh', '-c', 'echo $X']);
  assert.deepEqual(find(r.target, 'ENTRYPOINT').exec, ['sh', '-c', 'echo $X']);
  assert.deepEqual(find(r.target, 'HEALTHCHECK').test, ['CMD-SHELL', 'test $X']);
  assert.deepEqual(r.warnings.map((w) => w.rule), ['JSONArgsRecommended']);
  const bare = resolve('FROM scratch\nENTRYPOINT []\nCMD\n');
  assert.deepEqual(find(bare.target, 'ENTRYPOINT').exec, []);
  assert.deepEqual(find(bare.target, 'CMD').exec, ['/bin/sh', '-c', '']);
});

test('a backtick escape directive applies to expansion', () => {
  const r = resolve('# escape=`\nFROM scratch\nENV A=1\nLABEL a=`$A b=C:\\$A\n');
  assert.deepEqual(find(r.target, 'LABEL').pairs, [{ key: 'a', value: '$A' }, { key: 'b', value: 'C:\\1' }]);
});

test('expansion errors point at the instruction and keep BuildKit\'s wording', () => {
  fails('FROM scratch\nENV A=1\n  LABEL a="${A:?}${B:?B must be set}"\n', {}, 3, 3, /failed to process "\\"\$\{A:\?\}\$\{B:\?B must be set\}\\"": B: B must be set/);
  fails('ARG V=${X:?required}\nFROM scratch\n', {}, 1, 1, /X: required/);
});

test('secret-looking ARG/ENV names are reported like BuildKit\'s SecretsUsedInArgOrEnv', () => {
  const r = resolve('FROM scratch\nARG GITHUB_TOKEN\nENV DB_PASSWORD=x PUBLIC_KEY=y MONKEY=z\n');
  assert.deepEqual(r.warnings.map((w) => w.message), [
    'Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN")',
    'Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD")',
  ]);
});

test('ONBUILD COPY --from pulls the named stage into the build, from a base stage or a base image', () => {
  const text = 'FROM scratch AS assets\nLABEL a=1\nFROM scratch AS tmpl\nONBUILD COPY --from=assets /x /x\nFROM tmpl\n';
  const r = resolve(text);
  assert.deepEqual(r.stages.map((s) => s.name ?? s.index), ['assets', 'tmpl', 2]);
  const copy = find(r.target, 'COPY');
  assert.deepEqual([copy.fromStage, copy.fromOnBuild], [0, true]);

  const calls: string[] = [];
  const viaImage = resolve('FROM scratch AS assets\nFROM scratch AS unused\nFROM builder:1\n', {
    baseImageConfig: ({ image }) => {
      calls.push(image);
      return { onBuild: ['COPY --from=assets /x /x'] };
    },
  });
  assert.deepEqual(viaImage.stages.map((s) => s.index), [0, 2]);
  assert.deepEqual(calls, ['builder:1'], 'each base config is asked for once');
  fails('FROM builder:1 AS a\nFROM scratch AS later\n', { target: 'a', baseImageConfig: () => ({ onBuild: ['COPY --from=later /x /x'] }) }, 1, 1, /cannot copy from stage "later"/);
});

test('warnings are reported once even when a variable is used several times on a line', () => {
  const r = resolve('FROM scratch\nLABEL a=$X b=$X\n');
  assert.deepEqual(r.warnings, [{ rule: 'UndefinedVar', message: "Usage of undefined variable '$X'", line: 2 }]);
});

test('a Windows stage (its base image\'s os, else the target; a scratch stage is always the target\'s, whatever FROM --platform says): no Linux PATH added, shell forms run cmd /S /C (BuildKit: #5445, defaultShell)', () => {
  const windows = { os: 'windows', architecture: 'amd64' };
  const fromImage = resolve('FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCMD app.exe\n', {
    targetPlatform: windows,
    baseImageConfig: () => ({ os: 'windows', env: [], workingDir: 'C:\\app' }),
  }).target;
  assert.equal(fromImage.os, 'windows');
  assert.equal(fromImage.workingDir, '\\app');
  assert.deepEqual(fromImage.env, []);
  assert.deepEqual(find(fromImage, 'CMD').exec, ['cmd', '/S', '/C', 'app.exe']);
  const both = resolveStages(parseDockerfile('FROM --platform=linux/amd64 scratch AS l\nCMD app\nFROM scratch\nCOPY --from=l / /\nENTRYPOINT app.exe\n'), { targetPlatform: windows });
  assert.deepEqual(both.stages.map((s) => s.os), ['windows', 'windows']);
  for (const stage of both.stages) assert.deepEqual(stage.env, ['PATH=c:\\Windows\\System32;c:\\Windows;C:\\Windows\\System32\\WindowsPowerShell\\v1.0']);
  assert.deepEqual(find(both.stages[0]!, 'CMD').exec, ['cmd', '/S', '/C', 'app']);
  assert.deepEqual(find(both.stages[1]!, 'ENTRYPOINT').exec, ['cmd', '/S', '/C', 'app.exe']);
  // An image base's os decides, FROM --platform naming it (containerd's windows(10.0.20348)/amd64 form too) when its config has none.
  const fromPlatform = resolve('FROM --platform=windows(10.0.20348)/amd64 base\nCMD app.exe\n', { baseImageConfig: () => ({ env: [] }) }).target;
  assert.equal(fromPlatform.os, 'windows');
  assert.deepEqual(find(fromPlatform, 'CMD').exec, ['cmd', '/S', '/C', 'app.exe']);
});

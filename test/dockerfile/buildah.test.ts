import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  createIgnoreMatcher,
  parseDockerfile,
  parseDockerignore,
  resolveStages,
  type IgnoreMatcher,
  type ResolvedStage,
} from '../../src/dockerfile/index.js';
import { goMatch } from '../../src/dockerfile/go-match.js';
import { requireTool, run, tempDir } from '../support/tools.js';

/**
 * Differential checks against a real Dockerfile builder: buildah builds each Dockerfile (they
 * need no RUN, so nothing executes) and the image config it writes must equal what ocipush's
 * front end resolves. Cases avoid buildah's known departures from BuildKit, which unit tests
 * cover from BuildKit's source instead: buildah keeps EXPOSE ranges unexpanded, ignores SHELL for
 * shell-form ENTRYPOINT, does not carry ARG values into a stage built FROM another stage, and
 * ignores `# escape=` when expanding variables.
 */

let work: { path: string; cleanup: () => Promise<void> };
let buildah: string;

before(async () => {
  buildah = requireTool('buildah');
  work = await tempDir('ocipush-dockerfile-buildah-');
});

after(async () => {
  await work?.cleanup();
});

function buildahArgs(): string[] {
  return ['--storage-driver', 'vfs', '--root', join(work.path, 'root'), '--runroot', join(work.path, 'runroot')];
}

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const path = join(root, name);
    if (name.endsWith('/')) {
      await mkdir(path, { recursive: true });
      continue;
    }
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
}

let counter = 0;

interface Case {
  dockerfile: string;
  files?: Record<string, string>;
  buildArgs?: Record<string, string>;
  target?: string;
}

/** Builds with buildah and returns the Docker-format image config. */
async function buildWithBuildah(c: Case): Promise<Record<string, unknown>> {
  const context = join(work.path, `ctx-${++counter}`);
  await writeTree(context, { Dockerfile: c.dockerfile, ...c.files });
  const tag = `localhost/ocipush-test-${counter}`;
  const args = [...buildahArgs(), 'build', '--format', 'docker', '--isolation', 'chroot', '-q', '-t', tag];
  for (const [k, v] of Object.entries(c.buildArgs ?? {})) args.push('--build-arg', `${k}=${v}`);
  if (c.target) args.push('--target', c.target);
  run(buildah, [...args, context]);
  const inspected = JSON.parse(run(buildah, [...buildahArgs(), 'inspect', '--type', 'image', tag])) as { Docker: { config: Record<string, unknown>; author?: string } };
  return { ...inspected.Docker.config, Author: inspected.Docker.author ?? '' };
}

/** The config docker build derives from the resolved stages (folded as BuildKit's dispatch does). */
function configOf(stages: ResolvedStage[], stage: ResolvedStage): Record<string, unknown> {
  const base = stage.base.kind === 'stage' ? configOf(stages, stages.find((s) => s.index === (stage.base as { index: number }).index)!) : undefined;
  const labels: Record<string, string> = { ...((base?.Labels as Record<string, string>) ?? {}) };
  const ports = new Set<string>(Object.keys((base?.ExposedPorts as object) ?? {}));
  const volumes = new Set<string>(Object.keys((base?.Volumes as object) ?? {}));
  let entrypoint = (base?.Entrypoint as string[] | null) ?? null;
  let cmd = (base?.Cmd as string[] | null) ?? null;
  let cmdSet = false;
  let stopSignal = (base?.StopSignal as string) ?? '';
  let healthcheck = (base?.Healthcheck as object | null) ?? null;
  let author = (base?.Author as string) ?? '';
  const onBuild: string[] = [];
  for (const i of stage.instructions) {
    switch (i.keyword) {
      case 'LABEL':
        for (const p of i.pairs) labels[p.key] = p.value;
        break;
      case 'EXPOSE':
        for (const p of i.ports) ports.add(p);
        break;
      case 'VOLUME':
        for (const v of i.volumes) volumes.add(v);
        break;
      case 'ENTRYPOINT':
        entrypoint = i.exec.length ? i.exec : null;
        if (!cmdSet) cmd = null;
        break;
      case 'CMD':
        cmd = i.exec;
        cmdSet = true;
        break;
      case 'STOPSIGNAL':
        stopSignal = i.signal;
        break;
      case 'HEALTHCHECK':
        healthcheck = { Test: i.test, Interval: i.interval, Timeout: i.timeout, StartPeriod: i.startPeriod, Retries: i.retries };
        break;
      case 'MAINTAINER':
        author = i.maintainer;
        break;
      case 'ONBUILD':
        onBuild.push(i.expression);
        break;
    }
  }
  return {
    Env: stage.env,
    WorkingDir: stage.workingDir,
    User: stage.user,
    Labels: labels,
    ExposedPorts: Object.fromEntries([...ports].sort().map((p) => [p, {}])),
    Volumes: Object.fromEntries([...volumes].sort().map((v) => [v, {}])),
    Entrypoint: entrypoint,
    Cmd: cmd,
    StopSignal: stopSignal,
    Healthcheck: healthcheck,
    OnBuild: onBuild,
    Author: author,
  };
}

/** The fields both sides define, normalized (buildah adds its own label and zero values). */
function comparable(config: Record<string, unknown>): Record<string, unknown> {
  const labels = { ...((config.Labels as Record<string, string>) ?? {}) };
  delete labels['io.buildah.version'];
  const sortKeys = (o: unknown): Record<string, object> => Object.fromEntries(Object.keys((o as object) ?? {}).sort().map((k) => [k, {}]));
  const hc = config.Healthcheck as Record<string, unknown> | null | undefined;
  return {
    Env: config.Env ?? [],
    WorkingDir: config.WorkingDir ?? '',
    User: config.User ?? '',
    Labels: labels,
    ExposedPorts: sortKeys(config.ExposedPorts),
    Volumes: sortKeys(config.Volumes),
    Entrypoint: (config.Entrypoint as string[] | null)?.length ? config.Entrypoint : null,
    Cmd: (config.Cmd as string[] | null)?.length ? config.Cmd : null,
    StopSignal: config.StopSignal ?? '',
    Healthcheck: hc ? { Test: hc.Test, Interval: hc.Interval ?? 0, Timeout: hc.Timeout ?? 0, StartPeriod: hc.StartPeriod ?? 0, Retries: hc.Retries ?? 0 } : null,
    OnBuild: config.OnBuild ?? [],
    Author: config.Author ?? '',
  };
}

async function assertSameAsBuildah(c: Case): Promise<void> {
  const theirs = comparable(await buildWithBuildah(c));
  const resolved = resolveStages(parseDockerfile(c.dockerfile), {
    buildArgs: c.buildArgs ?? {},
    ...(c.target !== undefined && { target: c.target }),
    targetPlatform: { os: 'linux', architecture: 'amd64' },
  });
  const ours = comparable(configOf(resolved.stages, resolved.target));
  assert.deepEqual(ours, theirs);
}

test('tutorial Dockerfile: FROM scratch, COPY, exec ENTRYPOINT', async () => {
  await assertSameAsBuildah({ dockerfile: 'FROM scratch\nCOPY ./hello ./\nENTRYPOINT ["./hello"]\n', files: { hello: '#!/bin/sh\n' } });
});

test('ENV (new and legacy forms), LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, CMD', async () => {
  await assertSameAsBuildah({
    dockerfile: [
      '# syntax=docker/dockerfile:1',
      'ARG LABEL_VALUE=global',
      'FROM scratch AS first',
      'ARG LABEL_VALUE',
      'ARG MODE=dev',
      'ENV abc=hello',
      'ENV abc=bye def=$abc',
      'ENV ghi=$abc "q k"="v w" \\',
      '    # a comment inside a continuation',
      '    last=1',
      'ENV LEG value with  spaces',
      'LABEL a=$LABEL_VALUE b="x $MODE" \'c\'=\\$abc "d"=${MODE:+set} e=${NOPE:-dflt} f="${MODE}-${abc}"',
      'WORKDIR app',
      'WORKDIR sub/../deeper',
      'USER 1000:$MODE',
      'EXPOSE 80 443/udp ${NOPE} 8080/tcp',
      'VOLUME ["/data", "/logs"]',
      'VOLUME /cache',
      'STOPSIGNAL SIGQUIT',
      'HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 CMD curl -f http://localhost/ || exit 1',
      'ENTRYPOINT exec ./server --mode "$MODE"',
      'CMD ["--port", "8080"]',
      'COPY --chown=1:2 f /f',
      '',
    ].join('\n'),
    files: { f: 'x' },
    buildArgs: { MODE: 'prod' },
  });
});

test('multi-stage: global ARGs in FROM, ARG redeclaration, --build-arg, --target, inheritance', async () => {
  await assertSameAsBuildah({
    dockerfile: [
      'ARG VERSION=1.0',
      'ARG BASE=scratch',
      'FROM $BASE AS base',
      'ARG VERSION',
      'LABEL version=$VERSION',
      'ENV APP_HOME=/srv/app',
      'WORKDIR $APP_HOME',
      'ONBUILD LABEL from-onbuild=1',
      'FROM base AS final',
      'ARG EXTRA',
      'LABEL extra=${EXTRA:-none} home=$APP_HOME',
      'ENTRYPOINT ["/serve"]',
      'FROM scratch AS other',
      'LABEL other=1',
      '',
    ].join('\n'),
    buildArgs: { VERSION: '2.0' },
    target: 'final',
  });
});

test('escape directive: a backtick continues lines', async () => {
  await assertSameAsBuildah({
    dockerfile: '# escape=`\nFROM scratch\nENV P=one `\n    Q=2\nLABEL b="$Q" `\n  d=$P\n',
  });
});

test('ONBUILD triggers are stored (trailing blanks kept, as BuildKit keeps them); MAINTAINER sets the author; ENTRYPOINT resets an inherited CMD', async () => {
  await assertSameAsBuildah({
    dockerfile: 'FROM scratch AS a\nCMD ["from-a"]\nFROM a\nMAINTAINER Jane Doe <jane@example.com>\nONBUILD COPY . /app\nONBUILD  ENV X=1\nONBUILD COPY a b  \nONBUILD LABEL y=1 \\\n  z=2 \nENTRYPOINT ["/bin/app"]\n',
  });
});

// .dockerignore: buildah applies it to the build context; ocipush's matcher, walked the way
// BuildKit's fsutil walks, must select the same files.

async function listTree(root: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(join(root, prefix), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    out.push(entry.isDirectory() ? `${rel}/` : rel);
    if (entry.isDirectory()) out.push(...(await listTree(root, rel)));
  }
  return out;
}

/** The context a fsutil-style walk sends: excluded dirs are entered only if something may be re-included. */
async function walkContext(root: string, matcher: IgnoreMatcher, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(join(root, prefix), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    const isDir = entry.isDirectory();
    const excluded = matcher(rel, isDir);
    if (!isDir) {
      if (!excluded) out.push(rel);
      continue;
    }
    if (excluded && !matcher.mayReinclude(rel)) continue;
    const inside = await walkContext(root, matcher, rel);
    if (!excluded || inside.length > 0) out.push(`${rel}/`, ...inside);
  }
  return out;
}

const TREE: Record<string, string> = {
  'a.md': '',
  'README.md': '',
  '.env': '',
  '.git/config': '',
  'docs/keep.md': '',
  'docs/other.md': '',
  'docs/sub/x.txt': '',
  'src/main.go': '',
  'src/main_test.go': '',
  'src/pkg/util.go': '',
  'src/pkg/util_test.go': '',
  'node_modules/lib/index.js': '',
  'web/node_modules/x/y.js': '',
  'web/app.js': '',
  'build/out/bin': '',
  'build/keep/me': '',
  'tmp1/a': '',
  'tmpx/b': '',
  'empty/': '',
};

const IGNORES: string[] = [
  '# comments and blank lines\n\n.git\n.env\n',
  'docs\n!docs/keep.md\n*.md\n!README.md\n',
  '**/*_test.go\n**/node_modules\n',
  '*\n!src\n!README.md\nsrc/pkg\n',
  '/build/\n!build/keep\n',
  'tmp?\n  empty  \n./web/../web/app.js\n',
  'src/**\n!src/pkg/*.go\nsrc/pkg/*_test.go\n',
  'docs/*/\n*.go\n',
  // patternmatcher hands `|` and `{n}` to RE2 unescaped: in a pattern with a wildcard they are
  // an alternation (each side anchored at one end only) and a repeat.
  '**/*_test.go|.e*\nsrc/p?{2}/*.go\n*.{md,txt}\n',
];

for (const [n, ignore] of IGNORES.entries()) {
  test(`.dockerignore case ${n + 1} selects the same context files as buildah`, async () => {
    const context = join(work.path, `ignore-${n}`);
    const dockerfile = 'FROM scratch\nCOPY . /ctx/\n';
    await writeTree(context, { ...TREE, Dockerfile: dockerfile, '.dockerignore': ignore });
    const out = join(work.path, `ignore-out-${n}`);
    run(buildah, [...buildahArgs(), 'build', '--isolation', 'chroot', '-q', '-o', `type=local,dest=${out}`, context]);
    const theirs = await listTree(join(out, 'ctx'));
    const ours = await walkContext(context, createIgnoreMatcher(parseDockerignore(await readFile(join(context, '.dockerignore'), 'utf8'))));
    assert.deepEqual(ours, theirs);
  });
}

test('.dockerignore with a reversed range ([Local-Only]): buildah and ocipush both refuse it with "syntax error in pattern"', async () => {
  const context = join(work.path, 'ignore-reversed');
  await writeTree(context, { Dockerfile: 'FROM scratch\nCOPY foo /\n', foo: 'x', '.dockerignore': '[Local-Only]/\n' });
  assert.throws(
    () => run(buildah, [...buildahArgs(), 'build', '--isolation', 'chroot', '-q', '-o', `type=local,dest=${join(work.path, 'ignore-reversed-out')}`, context]),
    /syntax error in pattern/,
  );
  const matcher = createIgnoreMatcher(parseDockerignore(await readFile(join(context, '.dockerignore'), 'utf8')));
  assert.throws(() => matcher('foo'), /syntax error in pattern/);
});

test('COPY with a reversed-range wildcard ([z-a]*): it matches nothing for buildah, as for filepath.Match', async () => {
  const context = join(work.path, 'wildcard-reversed');
  await writeTree(context, { Dockerfile: 'FROM scratch\nCOPY foo [z-a]* /out/\n', foo: 'x', zz: 'z', a: 'a' });
  const out = join(work.path, 'wildcard-reversed-out');
  run(buildah, [...buildahArgs(), 'build', '--isolation', 'chroot', '-q', '-o', `type=local,dest=${out}`, context]);
  assert.deepEqual(await listTree(join(out, 'out')), ['foo']);
  assert.deepEqual(['foo', 'zz', 'a'].filter((name) => goMatch('[z-a]*', name)), []);
});

import assert from 'node:assert/strict';
import { readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run, runCli, tempDir } from '../support/tools.js';
import { blobPath, build, buildahBuild, buildCli, layerListing, readImage, writeTree } from './support.js';

/**
 * Every config instruction and substitution form, built, and the image config and history
 * compared with what BuildKit's dockerfile2llb writes (its dispatch functions and
 * commitToHistory, read from the source): field by field, `created_by` text included.
 */

const PATH_DEFAULT = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const T0 = '1970-01-01T00:00:00Z';

let tmp: { path: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('ocipush-df-config-');
});
after(async () => {
  await tmp?.cleanup();
});

function history(layout: string, tag: string): [string, boolean][] {
  return readImage(layout, tag).config.history.map((h) => {
    assert.equal(h.comment, 'buildkit.dockerfile.v0');
    assert.equal(h.created, T0);
    return [h.created_by!, h.empty_layer !== true];
  });
}

describe('image config and history', () => {
  it('every instruction and substitution form reaches the config as docker build puts it', () => {
    const context = join(tmp.path, 'all');
    writeTree(context, {
      Dockerfile: [
        '# syntax=docker/dockerfile:1',
        'ARG BASE=scratch',
        'ARG VERSION=1.0',
        'FROM ${BASE} AS base',
        'ARG VERSION',
        'ARG MODE=dev',
        'ENV APP_HOME=/srv/app \\',
        '    GREETING="hello world"',
        'ENV LEGACY value with  spaces',
        'LABEL org.example.version=$VERSION "org.example.mode"="${MODE}" empty=${UNSET:-dflt} alt=${MODE:+set} \'lit\'=\'$MODE\'',
        'WORKDIR $APP_HOME',
        'WORKDIR sub/../data',
        'USER 1000:1000',
        'EXPOSE 80 443/udp 8000-8001',
        'VOLUME ["/data", "/logs"]',
        'VOLUME /cache',
        'STOPSIGNAL SIGQUIT',
        'HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --retries=3 CMD wget -q -O- http://localhost/ || exit 1',
        'SHELL ["/bin/bash", "-c"]',
        'ONBUILD COPY . /onbuild',
        'MAINTAINER Jane Doe <jane@example.com>',
        'CMD echo $GREETING',
        'ENTRYPOINT ["/entry", "--mode", "${MODE}"]',
        'COPY --chown=1000:1000 f ${APP_HOME}/',
        '',
      ].join('\n'),
      f: 'file\n',
    });
    const layout = join(tmp.path, 'all-layout');
    build(context, layout, ['--tag', 'all', '--build-arg', 'MODE=prod']);
    const { config, manifest } = readImage(layout, 'all');
    assert.equal(config.author, 'Jane Doe <jane@example.com>');
    assert.equal(config.created, T0);
    assert.deepEqual(config.config, {
      User: '1000:1000',
      ExposedPorts: { '443/udp': {}, '80/tcp': {}, '8000/tcp': {}, '8001/tcp': {} },
      Env: [PATH_DEFAULT, 'APP_HOME=/srv/app', 'GREETING=hello world', 'LEGACY=value with  spaces'],
      Entrypoint: ['/entry', '--mode', '${MODE}'],
      Cmd: ['/bin/bash', '-c', 'echo $GREETING'],
      Volumes: { '/cache': {}, '/data': {}, '/logs': {} },
      WorkingDir: '/srv/app/data',
      Labels: { alt: 'set', empty: 'dflt', lit: '$MODE', 'org.example.mode': 'prod', 'org.example.version': '1.0' },
      StopSignal: 'SIGQUIT',
      ArgsEscaped: true,
      Healthcheck: { Test: ['CMD-SHELL', 'wget -q -O- http://localhost/ || exit 1'], Interval: 30e9, Timeout: 90e9, StartPeriod: 5e8, Retries: 3 },
      OnBuild: ['COPY . /onbuild'],
      Shell: ['/bin/bash', '-c'],
    });
    assert.deepEqual(history(layout, 'all'), [
      ['ARG VERSION=1.0', false],
      ['ARG MODE=prod', false],
      ['ENV APP_HOME=/srv/app GREETING=hello world', false],
      ['ENV LEGACY=value with  spaces', false],
      ['LABEL org.example.version=1.0 org.example.mode=prod empty=dflt alt=set lit=$MODE', false],
      ['WORKDIR /srv/app', true],
      ['WORKDIR /srv/app/data', true],
      ['USER 1000:1000', false],
      ['EXPOSE [443/udp 80/tcp 8000/tcp 8001/tcp]', false],
      ['VOLUME [/data /logs]', false],
      ['VOLUME [/cache]', false],
      ['STOPSIGNAL SIGQUIT', false],
      ['HEALTHCHECK {Test:[CMD-SHELL wget -q -O- http://localhost/ || exit 1] Interval:30s Timeout:1m30s StartPeriod:500ms StartInterval:0s Retries:3}', false],
      ['SHELL [/bin/bash -c]', false],
      ['MAINTAINER Jane Doe <jane@example.com>', false],
      ['CMD ["/bin/bash" "-c" "echo $GREETING"]', false],
      ['ENTRYPOINT ["/entry" "--mode" "${MODE}"]', false],
      ['COPY --chown=1000:1000 f /srv/app/ # buildkit', true],
    ]);
    // One layer per WORKDIR and COPY; WORKDIR makes its directories (0755, root: USER came later).
    assert.equal(manifest.layers.length, 3);
    assert.deepEqual(layerListing(layout, manifest.layers[0]!.digest), ['drwxr-xr-x 0/0 srv/', 'drwxr-xr-x 0/0 srv/app/']);
    assert.deepEqual(layerListing(layout, manifest.layers[1]!.digest), ['drwxr-xr-x 0/0 srv/', 'drwxr-xr-x 0/0 srv/app/', 'drwxr-xr-x 0/0 srv/app/data/']);
    assert.deepEqual(layerListing(layout, manifest.layers[2]!.digest), ['drwxr-xr-x 0/0 srv/', 'drwxr-xr-x 0/0 srv/app/', '-rw-r--r-- 1000/1000 srv/app/f']);
  });

  it('a stage FROM a stage: ONBUILD triggers run, OnBuild is not inherited, ENTRYPOINT drops the inherited CMD; --target picks a stage', () => {
    const context = join(tmp.path, 'stages');
    writeTree(context, {
      Dockerfile: [
        'FROM scratch AS a',
        'CMD ["from-a"]',
        'ONBUILD LABEL triggered=yes',
        'FROM a AS b',
        'ENTRYPOINT ["/app"]',
        'FROM scratch AS other',
        'LABEL other=1',
        '',
      ].join('\n'),
    });
    const layout = join(tmp.path, 'stages-layout');
    const b = build(context, layout, ['--tag', 'b', '--target', 'b']);
    assert.equal(b.stage, 'b');
    assert.deepEqual(readImage(layout, 'b').config.config, {
      Env: [PATH_DEFAULT],
      Entrypoint: ['/app'],
      WorkingDir: '/',
      Labels: { triggered: 'yes' },
      ArgsEscaped: true,
    });
    assert.deepEqual(history(layout, 'b'), [['CMD ["from-a"]', false], ['LABEL triggered=yes', false], ['ENTRYPOINT ["/app"]', false]]);
    const a = build(context, layout, ['--tag', 'a', '--target', 'A']);
    assert.equal(a.stage, 'a');
    assert.deepEqual(readImage(layout, 'a').config.config, { Env: [PATH_DEFAULT], Cmd: ['from-a'], WorkingDir: '/', ArgsEscaped: true, OnBuild: ['LABEL triggered=yes'] });
    build(context, layout, ['--tag', 'last']);
    assert.deepEqual(readImage(layout, 'last').config.config, { Env: [PATH_DEFAULT], WorkingDir: '/', Labels: { other: '1' } });
  });

  it('--label adds to the labels, --platform sets the platform and TARGETARCH, shell-form ENTRYPOINT uses /bin/sh -c', () => {
    const context = join(tmp.path, 'flags');
    writeTree(context, { Dockerfile: 'FROM scratch\nARG TARGETARCH\nLABEL arch=$TARGETARCH\nENTRYPOINT exec ./server\n' });
    const layout = join(tmp.path, 'flags-layout');
    build(context, layout, ['--tag', 'arm', '--platform', 'linux/arm64', '--label', 'org.example.ci=1']);
    const { config } = readImage(layout, 'arm');
    assert.equal(config.architecture, 'arm64');
    assert.deepEqual(config.config, { Env: [PATH_DEFAULT], Entrypoint: ['/bin/sh', '-c', 'exec ./server'], WorkingDir: '/', Labels: { arch: 'arm64', 'org.example.ci': '1' } });
    assert.deepEqual(history(layout, 'arm'), [['ARG TARGETARCH=arm64', false], ['LABEL arch=arm64', false], ['ENTRYPOINT ["/bin/sh" "-c" "exec ./server"]', false]]);
  });

  it('EXPOSE: the history lists every port of every spec, one named twice twice; the config holds it once', () => {
    // BuildKit since 98eab3257 (September 2025): `EXPOSE %v` of the parsed ports, the words sorted as written.
    const context = join(tmp.path, 'expose');
    writeTree(context, { Dockerfile: 'FROM scratch\nARG P=8080\nEXPOSE 80 $P 8079-8081 80/tcp 53/udp\n' });
    const layout = join(tmp.path, 'expose-layout');
    build(context, layout, ['--tag', 'e']);
    assert.deepEqual(readImage(layout, 'e').config.config.ExposedPorts, { '53/udp': {}, '80/tcp': {}, '8079/tcp': {}, '8080/tcp': {}, '8081/tcp': {} });
    assert.deepEqual(history(layout, 'e').at(-1), ['EXPOSE [8080/tcp 53/udp 80/tcp 80/tcp 8079/tcp 8080/tcp 8081/tcp]', false]);
  });

  it('EXPOSE: a port with a sign (+80) is the port, an empty host part (:80, ::80) warns of nothing, as BuildKit parsePorts', () => {
    // BuildKit's convert_expose.go parses a port with strconv.ParseInt and lints
    // ExposeInvalidFormat only when the IP or host port is not empty. The words are sorted as written.
    const context = join(tmp.path, 'expose-forms');
    writeTree(context, { Dockerfile: 'FROM scratch\nEXPOSE +80 :81 ::82/udp 83-83 +84-+85\n' });
    const layout = join(tmp.path, 'expose-forms-layout');
    const r = buildCli(context, layout, ['--tag', 'e']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /warning/);
    assert.deepEqual(readImage(layout, 'e').config.config.ExposedPorts, { '80/tcp': {}, '81/tcp': {}, '82/udp': {}, '83/tcp': {}, '84/tcp': {}, '85/tcp': {} });
    assert.deepEqual(history(layout, 'e').at(-1), ['EXPOSE [80/tcp 84/tcp 85/tcp 83/tcp 81/tcp 82/udp]', false]);
    // A named host part still warns.
    writeTree(context, { Dockerfile: 'FROM scratch\nEXPOSE 8080:80\n' });
    const warned = buildCli(context, layout, ['--tag', 'w']);
    assert.equal(warned.status, 0, warned.stderr);
    assert.match(warned.stderr, /ExposeInvalidFormat: EXPOSE instruction should not define an IP address or host-port mapping, found '8080:80'/);
  });

  it('--platform is normalized as BuildKit does before TARGETPLATFORM and the image: linux/arm is arm/v7 (as buildah), arm64/v8 is arm64', () => {
    const context = join(tmp.path, 'variant');
    writeTree(context, { Dockerfile: 'FROM scratch\nARG TARGETPLATFORM TARGETARCH TARGETVARIANT\nLABEL p=$TARGETPLATFORM av=$TARGETARCH$TARGETVARIANT\n' });
    const seen = (layout: string, tag: string) => {
      const { config } = readImage(layout, tag);
      return { architecture: config.architecture, variant: (config as { variant?: string }).variant, labels: config.config.Labels };
    };
    const layout = join(tmp.path, 'variant-layout');
    build(context, layout, ['--tag', 'arm', '--platform', 'linux/arm']);
    const armv7 = { architecture: 'arm', variant: 'v7', labels: { p: 'linux/arm/v7', av: 'armv7' } };
    assert.deepEqual(seen(layout, 'arm'), armv7);
    const buildahLayout = join(tmp.path, 'variant-buildah');
    buildahBuild(tmp.path, context, buildahLayout, 'arm', ['--platform', 'linux/arm']);
    const { labels, ...platform } = seen(buildahLayout, 'arm');
    assert.deepEqual({ ...platform, labels: { p: (labels as Record<string, string>).p, av: (labels as Record<string, string>).av } }, armv7);
    // containerd's Normalize drops arm64's v8 (buildah 1.28 keeps it: BuildKit is followed).
    build(context, layout, ['--tag', 'arm64', '--platform', 'linux/arm64/v8']);
    assert.deepEqual(seen(layout, 'arm64'), { architecture: 'arm64', variant: undefined, labels: { p: 'linux/arm64', av: 'arm64' } });
  });

  it('-f - reads the Dockerfile from standard input', () => {
    const context = join(tmp.path, 'stdin');
    writeTree(context, { f: 'f' });
    const layout = join(tmp.path, 'stdin-layout');
    const r = runCli(['build', '-f', '-', context, '--layout', layout, '--tag', 's'], { input: 'FROM scratch\nCOPY f /f\nCMD ["/f"]\n' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(history(layout, 's'), [['COPY f /f # buildkit', true], ['CMD ["/f"]', false]]);
  });

  it('is reproducible: the same context gives the same digest whatever the files\' times; SOURCE_DATE_EPOCH is the clamp and the created time', () => {
    const context = join(tmp.path, 'repro');
    writeTree(context, { Dockerfile: 'FROM scratch\nCOPY . /app/\nWORKDIR /app\nCMD ["/app/run"]\n', run: 'x', 'lib/a': 'a', 'lib/b': 'b' });
    const first = build(context, join(tmp.path, 'repro-1'), ['--tag', 'r']);
    for (const f of ['run', 'lib/a', 'lib', 'Dockerfile', '.']) utimesSync(join(context, f), 2e9, 2e9);
    const second = build(context, join(tmp.path, 'repro-2'), ['--tag', 'r']);
    assert.equal(second.digest, first.digest);
    const dated = build(context, join(tmp.path, 'repro-3'), ['--tag', 'r', '--build-arg', 'SOURCE_DATE_EPOCH=1700000000']);
    assert.notEqual(dated.digest, first.digest);
    const { config, manifest } = readImage(join(tmp.path, 'repro-3'), 'r');
    assert.equal(config.created, '2023-11-14T22:13:20Z');
    assert.ok(config.history.every((h) => h.created === '2023-11-14T22:13:20Z'));
    assert.equal(manifest.annotations?.['org.opencontainers.image.created'], '2023-11-14T22:13:20Z');
    const again = build(context, join(tmp.path, 'repro-4'), ['--tag', 'r', '--created', '2023-11-14T22:13:20Z']);
    assert.equal(again.digest, dated.digest);
  });

  it('a global ARG SOURCE_DATE_EPOCH default is the epoch when none is given (BuildKit, dockerfile 1.23); =context is none', () => {
    const context = join(tmp.path, 'repro-arg');
    writeTree(context, { Dockerfile: 'ARG SOURCE_DATE_EPOCH=1704067200\nFROM scratch\nARG SOURCE_DATE_EPOCH\nCOPY f /f\nLABEL sde=$SOURCE_DATE_EPOCH\n', f: 'f' });
    utimesSync(join(context, 'f'), 2e9, 2e9);
    const env = { ...process.env };
    delete env.SOURCE_DATE_EPOCH;
    const seen = (args: string[], n: string, epoch?: string) => {
      const layout = join(tmp.path, `repro-arg-${n}`);
      const r = runCli(['build', '-f', join(context, 'Dockerfile'), context, '--layout', layout, '--tag', 'r', ...args], { env: epoch === undefined ? env : { ...env, SOURCE_DATE_EPOCH: epoch } });
      assert.equal(r.status, 0, r.stderr);
      const { config, manifest } = readImage(layout, 'r');
      assert.ok(config.history.every((h) => h.created === config.created));
      // The file's time is clamped to the epoch, as the whole image's.
      const listed = run('tar', ['--full-time', '-tvzf', blobPath(layout, manifest.layers[0]!.digest)]).trim();
      return { created: config.created, label: config.config.Labels, file: listed.split(/\s+/).slice(3, 5).join(' ') };
    };
    assert.deepEqual(seen([], 'default'), { created: '2024-01-01T00:00:00Z', label: { sde: '1704067200' }, file: '2024-01-01 00:00:00' });
    assert.deepEqual(seen(['--build-arg', 'SOURCE_DATE_EPOCH=1700000000'], 'arg'), { created: '2023-11-14T22:13:20Z', label: { sde: '1700000000' }, file: '2023-11-14 22:13:20' });
    // A local context has no time of its own: BuildKit leaves the epoch unset, and the ARG empty.
    assert.deepEqual(seen(['--build-arg', 'SOURCE_DATE_EPOCH=context'], 'context'), { created: '1970-01-01T00:00:00Z', label: { sde: '' }, file: '1970-01-01 00:00:00' });
    // $SOURCE_DATE_EPOCH is the build arg too, as docker buildx passes it: the stage's ARG sees it.
    assert.deepEqual(seen([], 'env', '1600000000'), { created: '2020-09-13T12:26:40Z', label: { sde: '1600000000' }, file: '2020-09-13 12:26:40' });
  });

  it('ARG BUILDKIT_SBOM_SCAN_STAGE / _CONTEXT are frontend options: declared (history), never variables (BuildKit\'s nonEnvArgs)', () => {
    const context = join(tmp.path, 'sbom-scan');
    writeTree(context, { Dockerfile: 'FROM scratch\nARG BUILDKIT_SBOM_SCAN_STAGE=true\nARG BUILDKIT_SBOM_SCAN_CONTEXT\nLABEL scan="[$BUILDKIT_SBOM_SCAN_STAGE][$BUILDKIT_SBOM_SCAN_CONTEXT]"\n' });
    const layout = join(tmp.path, 'sbom-scan-layout');
    const r = buildCli(context, layout, ['--tag', 's', '--build-arg', 'BUILDKIT_SBOM_SCAN_CONTEXT=true']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /UndefinedVar/);
    const config = JSON.parse(run('skopeo', ['inspect', '--config', `oci:${layout}:s`])) as { config: { Labels: Record<string, string>; Env: string[] }; history: { created_by: string }[] };
    assert.deepEqual(config.config.Labels, { scan: '[][]' });
    assert.deepEqual(config.config.Env, [PATH_DEFAULT]);
    assert.deepEqual(config.history.map((h) => h.created_by), ['ARG BUILDKIT_SBOM_SCAN_STAGE=true', 'ARG BUILDKIT_SBOM_SCAN_CONTEXT=true', 'LABEL scan=[][]']);
  });

  it('a SOURCE_DATE_EPOCH build arg no stage declares is no unused build arg: it is the epoch; nor is a BUILDKIT_* option', () => {
    const context = join(tmp.path, 'repro-unused');
    writeTree(context, { Dockerfile: 'FROM scratch\nLABEL a=b\n' });
    // Nor are BuildKit's options (BUILDKIT_*) or the proxy variables, which no ARG needs to declare.
    const r = buildCli(context, join(tmp.path, 'repro-unused-layout'), ['--tag', 'u', '--build-arg', 'SOURCE_DATE_EPOCH=1700000000', '--build-arg', 'OTHER=1',
      '--build-arg', 'BUILDKIT_INLINE_CACHE=1', '--build-arg', 'BUILDKIT_SBOM_SCAN_CONTEXT=true', '--build-arg', 'https_proxy=http://proxy:3128']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /UnusedBuildArg: one or more build-args \[OTHER\] were not consumed/);
    assert.equal(readImage(join(tmp.path, 'repro-unused-layout'), 'u').config.created, '2023-11-14T22:13:20Z');
  });
});

describe('Windows images (--platform windows/amd64)', () => {
  let layout: string;
  before(() => {
    // A Windows base: a config for windows/amd64 without Env, as nanoserver's has none.
    const root = join(tmp.path, 'win-root');
    writeTree(root, { 'Files/Windows/': '' });
    layout = join(tmp.path, 'win');
    const r = runCli(['build', root, '--platform', 'windows/amd64', '--layout', layout, '--tag', 'base']);
    assert.equal(r.status, 0, r.stderr);
  });

  const config = (tag: string) => JSON.parse(run('skopeo', ['inspect', '--config', `oci:${layout}:${tag}`])) as { os: string; config: Record<string, unknown> };

  it('shell forms run cmd /S /C; no Linux PATH is added (FROM scratch gets Windows\' own), as BuildKit writes them', () => {
    const context = join(tmp.path, 'win-config');
    writeTree(context, {
      Dockerfile: `FROM oci:${layout}:base\nLABEL app=1\nCMD app.exe --serve\n`,
      'Scratch.Dockerfile': 'FROM scratch\nENTRYPOINT app.exe\n',
    });
    build(context, layout, ['--tag', 'app', '--platform', 'windows/amd64']);
    assert.deepEqual(config('app').config, { Cmd: ['cmd', '/S', '/C', 'app.exe --serve'], Labels: { app: '1' }, ArgsEscaped: true });
    build(context, layout, ['--tag', 'scratch', '--platform', 'windows/amd64'], join(context, 'Scratch.Dockerfile'));
    const fromScratch = config('scratch');
    assert.equal(fromScratch.os, 'windows');
    assert.deepEqual(fromScratch.config, {
      Env: ['PATH=c:\\Windows\\System32;c:\\Windows;C:\\Windows\\System32\\WindowsPowerShell\\v1.0'],
      Entrypoint: ['cmd', '/S', '/C', 'app.exe'],
      WorkingDir: '/',
    });
  });

  it('a scratch stage is built for the target platform whatever its FROM --platform says, as BuildKit does (emptyImage(targetPlatform)): a Linux image gets no cmd /S /C and no Windows PATH', () => {
    const context = join(tmp.path, 'win-scratch-platform');
    writeTree(context, {
      Dockerfile: 'FROM --platform=windows/amd64 scratch\nCMD app --serve\n',
      'Linux.Dockerfile': 'FROM --platform=linux/amd64 scratch\nCMD app.exe\n',
    });
    build(context, layout, ['--tag', 'scratch-on-linux']);
    const linux = config('scratch-on-linux');
    assert.equal(linux.os, 'linux');
    assert.deepEqual(linux.config, { Env: [PATH_DEFAULT], Cmd: ['/bin/sh', '-c', 'app --serve'], WorkingDir: '/', ArgsEscaped: true });
    build(context, layout, ['--tag', 'scratch-on-windows', '--platform', 'windows/amd64'], join(context, 'Linux.Dockerfile'));
    const windows = config('scratch-on-windows');
    assert.equal(windows.os, 'windows');
    assert.deepEqual(windows.config.Cmd, ['cmd', '/S', '/C', 'app.exe']);
    assert.deepEqual(windows.config.Env, ['PATH=c:\\Windows\\System32;c:\\Windows;C:\\Windows\\System32\\WindowsPowerShell\\v1.0']);
  });

  it('--platform windows/amd64:10.0.20348.887: TARGETOSVERSION is its os.version, TARGETPLATFORM names it as containerd\'s FormatAll does, and a FROM scratch image keeps it (BuildKit\'s defaultArgs, emptyImage)', () => {
    const context = join(tmp.path, 'win-osversion');
    writeTree(context, {
      Dockerfile: [
        'FROM scratch AS a',
        'ARG TARGETPLATFORM TARGETOSVERSION BUILDOSVERSION',
        'LABEL platform=$TARGETPLATFORM osversion=$TARGETOSVERSION build=${BUILDOSVERSION+declared}',
        'FROM --platform=$TARGETPLATFORM a',
        'LABEL from=again',
        '',
      ].join('\n'),
    });
    build(context, layout, ['--tag', 'osversion', '--platform', 'windows/amd64:10.0.20348.887']);
    const image = JSON.parse(run('skopeo', ['inspect', '--config', `oci:${layout}:osversion`])) as { os: string; 'os.version'?: string; config: { Labels: Record<string, string> } };
    assert.deepEqual([image.os, image['os.version']], ['windows', '10.0.20348.887']);
    assert.deepEqual(image.config.Labels, { platform: 'windows(10.0.20348.887)/amd64', osversion: '10.0.20348.887', build: 'declared', from: 'again' });
    build(context, layout, ['--tag', 'no-osversion', '--platform', 'linux/arm64']);
    assert.deepEqual(config('no-osversion').config.Labels, { platform: 'linux/arm64', osversion: '', build: 'declared', from: 'again' });
  });

  it('a base\'s WorkingDir C:\\app is \\app in the image, and WORKDIR C:\\ is \\, as BuildKit\'s NormalizeWorkdir writes them; another drive is refused', () => {
    run('umoci', ['config', '--image', `${layout}:base`, '--tag', 'base-wd', '--config.workingdir', 'C:\\app']);
    const context = join(tmp.path, 'win-workdir');
    writeTree(context, {
      Dockerfile: `FROM oci:${layout}:base-wd\nLABEL a=b\n`,
      'Root.Dockerfile': `FROM oci:${layout}:base-wd\nWORKDIR C:\\\\\n`,
      'Drive.Dockerfile': `FROM oci:${layout}:base-wd\nWORKDIR D:\\\\data\n`,
    });
    build(context, layout, ['--tag', 'wd', '--platform', 'windows/amd64']);
    assert.equal(config('wd').config.WorkingDir, '\\app');
    build(context, layout, ['--tag', 'wd-root', '--platform', 'windows/amd64'], join(context, 'Root.Dockerfile'));
    assert.equal(config('wd-root').config.WorkingDir, '\\');
    const r = buildCli(context, layout, ['--tag', 'wd-drive', '--platform', 'windows/amd64'], 'Drive.Dockerfile');
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'ocipush: Drive.Dockerfile:2:1: normalizing workdir: The specified path is not on the system drive (C:)\n');
  });

  it('COPY (ADD too) and WORKDIR, whose layers would need the Windows layout (Files/…), fail in one line and write nothing', () => {
    const context = join(tmp.path, 'win-copy');
    writeTree(context, { 'app.exe': 'MZ', Dockerfile: `FROM oci:${layout}:base\nLABEL a=b\nCOPY app.exe C:/app/\n`, 'Workdir.Dockerfile': 'FROM scratch\nWORKDIR C:\\\\app\n' });
    const before = readFileSync(join(layout, 'index.json'), 'utf8');
    for (const [file, line] of [['Dockerfile', 'Dockerfile:3:1: COPY app.exe C:/app/'], ['Workdir.Dockerfile', 'Workdir.Dockerfile:2:1: WORKDIR C:\\\\app']]) {
      const r = buildCli(context, layout, ['--tag', 'copy', '--platform', 'windows/amd64'], file);
      assert.notEqual(r.status, 0);
      assert.equal(r.stderr, `ocipush: ${line}: ocipush cannot write the layers of a Windows image (their files go under Files/, with Windows attributes); only the config (ENV, LABEL, CMD, …) of a windows stage can be built\n`);
    }
    assert.equal(readFileSync(join(layout, 'index.json'), 'utf8'), before);
    // A scratch stage is built for the target (linux here) whatever its --platform says: its COPY builds.
    writeTree(context, { 'From.Dockerfile': 'FROM --platform=windows/amd64 scratch AS w\nCOPY app.exe /app.exe\nFROM scratch\nCOPY --from=w /app.exe /bin/app\n' });
    const linux = build(context, join(tmp.path, 'win-from'), ['--tag', 'l'], join(context, 'From.Dockerfile'));
    assert.deepEqual(layerListing(join(tmp.path, 'win-from'), linux.layers[0]!.digest), ['drwxr-xr-x 0/0 bin/', '-rw-r--r-- 0/0 bin/app']);
  });
});

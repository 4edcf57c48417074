import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { run, runCli, tempDir } from '../support/tools.js';
import { build, buildCli, layerListing, readImage, writeTree, type TreeSpec } from './support.js';

/**
 * A Dockerfile that cannot be built fails with one line (file:line:column, the instruction,
 * why), exit status 1, and nothing written: no layout created, an existing one unchanged, no
 * temp file left.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
let existing: string;
before(async () => {
  tmp = await tempDir('ocipush-df-errors-');
  const ctx = join(tmp.path, 'ok');
  writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY f /f\n', f: 'f' });
  existing = join(tmp.path, 'existing-layout');
  build(ctx, existing, ['--tag', 'before']);
});
after(async () => {
  await tmp?.cleanup();
});

function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d, { withFileTypes: true })) {
      const path = `${rel}/${name.name}`;
      if (name.isDirectory()) walk(join(d, name.name), path);
      else out.push(`${path} ${readFileSync(join(d, name.name)).length}`);
    }
  };
  walk(dir, '');
  return out.sort();
}

let n = 0;
/** Builds `dockerfile` into a new layout and into the existing one; both must fail the same way and change nothing. */
function fails(files: TreeSpec, pattern: RegExp, args: string[] = [], status = 1, warned: RegExp[] = []): string {
  const ctx = join(tmp.path, `ctx-${++n}`);
  writeTree(ctx, files);
  const fresh = join(tmp.path, `fresh-${n}`);
  const r = buildCli(ctx, fresh, args);
  assert.equal(r.status, status, `exit status (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  // One line, after the build check warnings BuildKit also prints first.
  assert.equal(lines.length, warned.length + 1, `one line: ${r.stderr}`);
  warned.forEach((w, i) => assert.match(lines[i]!, w));
  lines.splice(0, warned.length);
  assert.match(lines[0]!, pattern);
  assert.equal(existsSync(fresh), false, 'no layout created');
  const before = snapshot(existing);
  const again = buildCli(ctx, existing, args);
  assert.equal(again.status, status);
  assert.deepEqual(snapshot(existing), before, 'the existing layout is unchanged');
  assert.deepEqual(readdirSync(tmp.path).filter((f) => f.startsWith('.')), [], 'no temp files beside the layouts');
  return lines[0]!;
}

describe('Dockerfiles that cannot be built', () => {
  it('RUN in a stage the target needs: the line, why, and nothing written', () => {
    const line = fails({ Dockerfile: 'FROM scratch\nCOPY f /f\nRUN make \\\n  install\nCMD ["/f"]\n', f: 'f' }, /^ocipush: Dockerfile:3:1: RUN cannot be built without a container runtime/);
    assert.match(line, /daemonless and never executes code/);
  });

  it('RUN in an ONBUILD trigger of a base stage or image fails at the FROM that runs it, naming the trigger and its base; RUN in a stage not needed is fine', () => {
    fails(
      { Dockerfile: 'FROM scratch AS base\nONBUILD RUN echo hi\nFROM base\nCOPY f /f\n', f: 'f' },
      /^ocipush: Dockerfile:3:1: the stage base has the ONBUILD trigger "RUN echo hi", which runs here: RUN cannot be built/,
    );
    // An image made to be built on (the node:onbuild kind): its config keeps the triggers.
    const baseCtx = join(tmp.path, 'onbuild-base');
    writeTree(baseCtx, { Dockerfile: 'FROM scratch\nONBUILD COPY . /app/\nONBUILD RUN npm install\n' });
    const baseLayout = join(tmp.path, 'onbuild-base-layout');
    build(baseCtx, baseLayout, ['--tag', 'onbuild']);
    assert.deepEqual(readImage(baseLayout, 'onbuild').config.config.OnBuild, ['COPY . /app/', 'RUN npm install']);
    fails(
      { Dockerfile: `FROM oci:${baseLayout}:onbuild\nCMD ["node", "app.js"]\n` },
      new RegExp(`^ocipush: Dockerfile:1:1: the base image oci:${baseLayout}:onbuild has the ONBUILD trigger "RUN npm install", which runs here: RUN cannot be built without a container runtime`),
    );
    const ctx = join(tmp.path, 'unused-run');
    writeTree(ctx, { Dockerfile: 'FROM scratch AS tools\nRUN make\nFROM scratch\nCOPY f /f\n', f: 'f' });
    build(ctx, join(tmp.path, 'unused-run-layout'));
  });

  it('unknown instructions and syntax errors: line and column', () => {
    fails({ Dockerfile: 'FROM scratch\n  COPPY f /f\n' }, /^ocipush: Dockerfile:2:3: unknown instruction "COPPY" \(did you mean "COPY"\?\)$/);
    fails({ Dockerfile: 'FROM scratch\nENV\n' }, /^ocipush: Dockerfile:2:1: ENV /);
    fails({ Dockerfile: 'COPY f /f\n' }, /^ocipush: Dockerfile:1:1: /);
    // A word that does not expand is quoted as BuildKit's %q quotes it (a quote inside escaped).
    fails({ Dockerfile: 'FROM scratch\nVOLUME /a "/b c"\n' }, /^ocipush: Dockerfile:2:1: failed to process "\\"\/b": unexpected end of statement while looking for matching double-quote$/);
  });

  it('ADD of a URL or a git repository: no download', () => {
    fails({ Dockerfile: 'FROM scratch\nADD https://example.com/app.tar.gz /app/\n' }, /^ocipush: Dockerfile:2:1: ADD https:\/\/example.com\/app.tar.gz \/app\/: .*ADD from a URL is not supported .* COPY it instead$/);
    // A git repository (BuildKit's ParseGitRef: scp-like with any user, git://, an https path ending in .git) is named as one.
    for (const src of ['git@github.com:moby/buildkit.git', 'deploy@git.example.com:team/app.git', 'GIT://git.example.com/app', 'https://github.com/moby/buildkit.git#v0.20.0']) {
      fails({ Dockerfile: `FROM scratch\nADD ${src} /src\n` }, new RegExp(`^ocipush: Dockerfile:2:1: ADD ${src.replace(/[.]/g, '\\.')} /src: .*: ADD of a git repository is not supported \\(ocipush does not fetch build inputs\\); clone it into the build context and COPY it instead$`));
    }
    fails({ Dockerfile: 'FROM scratch\nCOPY https://example.com/x /x\n' }, /^ocipush: Dockerfile:2:1: source can't be a URL for COPY/);
    // An upper-case scheme is no URL to BuildKit (isHTTPSource tests a lower-case prefix): a context path that is not there.
    fails({ Dockerfile: 'FROM scratch\nADD HTTPS://example.com/app.tar.gz /app/\n' }, /^ocipush: Dockerfile:2:1: ADD HTTPS:\/\/example.com\/app.tar.gz \/app\/: "\/HTTPS:\/example.com\/app.tar.gz": not found in the build context$/);
    // A git source in COPY is not taken for an ADD (BuildKit: source can't be a git ref for COPY), an https one of a .git path included.
    for (const src of ['git@github.com:moby/buildkit.git', 'https://github.com/moby/buildkit.git#v0.20.0']) {
      fails({ Dockerfile: `FROM scratch\nCOPY ${src} /src\n` }, new RegExp(`^ocipush: Dockerfile:2:1: source can't be a git ref for COPY: ${src.replace(/[.]/g, '\\.')} \\(clone it into the build context and COPY it from there\\)$`));
    }
    // A Git source's --checksum is a commit (BuildKit): the line says why the ADD cannot be built, not that the checksum is no digest.
    fails({ Dockerfile: 'FROM scratch\nADD --checksum=4e53398 https://github.com/moby/buildkit.git#v0.20.0 /src\n' }, /^ocipush: Dockerfile:2:1: ADD --checksum=4e53398 .*: ADD of a git repository is not supported/);
  });

  it('a missing source, one .dockerignore excludes, a wildcard under a missing directory', () => {
    fails({ Dockerfile: 'FROM scratch\nCOPY nothere /x\n' }, /^ocipush: Dockerfile:2:1: COPY nothere \/x: "\/nothere": not found in the build context$/);
    fails({ Dockerfile: 'FROM scratch\nCOPY --chown=0:0 secret.txt /x\n', 'secret.txt': 's', '.dockerignore': 'secret.txt\n' },
      /^ocipush: Dockerfile:2:1: COPY --chown=0:0 secret.txt \/x: "\/secret.txt": excluded from the build context by .dockerignore$/,
      [], 1, [/^ocipush: warning: Dockerfile:2: CopyIgnoredFile: Attempting to Copy file "secret.txt" that is excluded by .dockerignore$/]);
    fails({ Dockerfile: 'FROM scratch\nCOPY missing/*.txt /x/\n' }, /^ocipush: Dockerfile:2:1: COPY missing\/\*.txt \/x\/: "\/missing": not found in the build context$/);
    fails({ Dockerfile: 'FROM scratch AS a\nFROM scratch\nCOPY --from=a /nope /x\n' }, /^ocipush: Dockerfile:3:1: COPY --from=a \/nope \/x: "\/nope": not found in stage a$/);
  });

  it('COPY --parents of a path through a symlink below its source: not found, as BuildKit (its walk enters no link); the source before /./ is followed', () => {
    const tree: TreeSpec = { 'real/f': 'f', ldir: { link: 'real' } };
    fails({ ...tree, Dockerfile: 'FROM scratch\nCOPY --parents ldir/f /d/\n' },
      /^ocipush: Dockerfile:2:1: COPY --parents ldir\/f \/d\/: "\/ldir\/f": not found in the build context: "\/ldir" on the way is a symlink, which COPY --parents does not follow below its source \(as docker build\); name the path it leads to$/);
    const ctx = join(tmp.path, 'parents-link');
    writeTree(ctx, { ...tree, Dockerfile: 'FROM scratch\nCOPY --parents ldir/./f real/f /d/\n' });
    const layout = join(tmp.path, 'parents-link-layout');
    const [layer] = readImage(layout, build(ctx, layout, ['--tag', 't']).tag).manifest.layers;
    assert.deepEqual(layerListing(layout, layer!.digest).map((l) => l.split(' ').slice(2).join(' ')), ['d/', 'd/f', 'd/real/', 'd/real/f']);
  });

  it('COPY --link --chown by name (a user or group, not an id, root or empty): BuildKit cannot look it up on the empty filesystem it copies onto', () => {
    const why = 'a user or group name cannot be looked up, as --link copies onto an empty filesystem without /etc/passwd \\(docker build fails too: invalid user index: -1\\); give numeric ids, or drop --link';
    const etc = { 'etc/passwd': 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n', 'etc/group': 'root:x:0:\nstaff:x:50:\n', f: 'f' };
    fails({ ...etc, Dockerfile: 'FROM scratch\nCOPY etc /etc\nCOPY --link --chown=app f /a\n' }, new RegExp(`^ocipush: Dockerfile:3:1: --chown=app with --link: ${why}$`));
    fails({ ...etc, Dockerfile: 'FROM scratch\nCOPY etc /etc\nADD --link --chown=1000:staff f /a\n' }, new RegExp(`^ocipush: Dockerfile:3:1: --chown=1000:staff with --link: ${why}$`));
    // llb's parseUID reads a 32-bit signed int: 3000000000 is a name to it.
    fails({ ...etc, Dockerfile: 'FROM scratch\nCOPY etc /etc\nCOPY --link --chown=3000000000 f /a\n' }, new RegExp(`^ocipush: Dockerfile:3:1: --chown=3000000000 with --link: ${why}$`));
    // Ids, root and an empty part need no lookup; with --chmod, --link copies onto the stage (names found there).
    const ctx = join(tmp.path, 'link-chown');
    writeTree(ctx, { ...etc, Dockerfile: 'FROM scratch\nCOPY etc /etc\nCOPY --link --chown=7:root f /a\nCOPY --link --chown=:8 f /b\nCOPY --link --chown=app --chmod=600 f /c\nCOPY --link --chown=+9:+10 f /d\n' });
    const layout = join(tmp.path, 'link-chown-layout');
    const layers = readImage(layout, build(ctx, layout, ['--tag', 't']).tag).manifest.layers.slice(1);
    assert.deepEqual(layers.map((l) => layerListing(layout, l.digest).join()), ['-rw-r--r-- 7/0 a', '-rw-r--r-- 0/8 b', '-rw------- 1000/1000 c', '-rw-r--r-- 9/10 d']);
  });

  it('a symlink source that leads out of the context: where it leads, not .dockerignore', () => {
    fails({ Dockerfile: 'FROM scratch\nCOPY link /\n', link: { link: '/etc/hostname' } },
      /^ocipush: Dockerfile:2:1: COPY link \/: "\/link": not found in the build context: a symlink leads to "\/etc\/hostname" \(links resolve inside the build context\), which is not in it$/);
    fails({ Dockerfile: 'FROM scratch\nCOPY up /\n', up: { link: '../outside' } }, /"\/up": not found in the build context: a symlink leads to "\/outside"/);
    fails({ Dockerfile: 'FROM scratch\nCOPY link /\n', link: { link: 'secret' }, secret: 's', '.dockerignore': 'secret\n' },
      /"\/link": not found in the build context: a symlink leads to "\/secret" \(links resolve inside the build context\), which \.dockerignore excludes from it$/);
  });

  it('a --target that no stage has, a bad .dockerignore, a bad --chmod', () => {
    fails({ Dockerfile: 'FROM scratch AS a\n' }, /^ocipush: Dockerfile:1:1: target stage "nope" could not be found/, ['--target', 'nope']);
    fails({ Dockerfile: 'FROM scratch\nCOPY . /\n', '.dockerignore': 'ok\n[z-a\n' }, /\.dockerignore:2:1: syntax error in pattern/);
    fails({ Dockerfile: 'FROM scratch\nCOPY --chmod=999 f /f\n', f: 'f' }, /^ocipush: Dockerfile:2:1: invalid chmod parameter: '999'/);
  });

  it('--tag with capitals in its repository is refused before the build, as docker build -t refuses it; a host or a tag may have them', () => {
    fails({ Dockerfile: 'FROM scratch\nCOPY f /f\n', f: 'f' }, /^ocipush: --tag "MyApp:1\.0": repository name "MyApp" must be lowercase, as docker build -t requires; write --tag myapp:1\.0$/, ['--tag', 'MyApp:1.0'], 2);
    fails({ Dockerfile: 'FROM scratch\n' }, /repository name "Team\/app" must be lowercase.*; write --tag localhost:5000\/team\/app:V1$/, ['--tag', 'localhost:5000/Team/app:V1'], 2);
    const ctx = join(tmp.path, 'tag-casing');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY f /f\n', f: 'f' });
    const layout = join(tmp.path, 'tag-casing-layout');
    for (const tag of ['V1', 'app:V1', 'Registry.Example.com/team/app:RC1']) build(ctx, layout, ['--tag', tag]);
    // A directory build checks its --tag the same way.
    const dir = runCli(['build', join(ctx), '--layout', join(tmp.path, 'tag-casing-dir'), '--tag', 'Team/app']);
    assert.equal(dir.status, 2);
    assert.match(dir.stderr, /^ocipush: --tag "Team\/app": repository name "Team\/app" must be lowercase/);
    assert.equal(existsSync(join(tmp.path, 'tag-casing-dir')), false);
    // skopeo reads the names it would also write: each is a docker name.
    for (const tag of ['app:V1', 'Registry.Example.com/team/app:RC1']) run('skopeo', ['inspect', '--raw', `oci:${layout}:${tag}`]);
  });

  it('a reversed range [z-a]: .dockerignore and --exclude give BuildKit\'s syntax error; a COPY wildcard with one matches nothing', () => {
    fails({ Dockerfile: 'FROM scratch\nCOPY f /\n', f: 'f', '.dockerignore': '[Local-Only]/\n' },
      /^ocipush: \.dockerignore:1:1: syntax error in pattern "\[Local-Only\]": invalid character class range l-O$/);
    fails({ Dockerfile: 'FROM scratch\nCOPY --exclude=[z-a] . /\n', f: 'f' },
      /^ocipush: Dockerfile:2:1: COPY --exclude=\[z-a\] \. \/: --exclude: syntax error in pattern "\[z-a\]": invalid character class range z-a$/);
    const ctx = join(tmp.path, 'reversed-wildcard');
    writeTree(ctx, { Dockerfile: 'FROM scratch\nCOPY f [z-a]* /\n', f: 'f', zz: 'z' });
    const layout = join(tmp.path, 'reversed-wildcard-layout');
    const result = build(ctx, layout);
    assert.deepEqual(layerListing(layout, result.layers[0]!.digest), ['-rw-r--r-- 0/0 f']);
  });

  it('flags: no Dockerfile, a context that is not a directory, rootfs flags with -f, -f flags without it', () => {
    const r = runCli(['build', '-f', join(tmp.path, 'none', 'Dockerfile'), tmp.path, '--layout', join(tmp.path, 'never')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^ocipush: cannot read Dockerfile .*none\/Dockerfile: no such file or directory\n$/);
    const file = join(tmp.path, 'ok', 'f');
    const r2 = runCli(['build', '-f', join(tmp.path, 'ok', 'Dockerfile'), file, '--layout', join(tmp.path, 'never')]);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /build context .*ok\/f: not a directory/);
    const r3 = runCli(['build', '-f', join(tmp.path, 'ok', 'Dockerfile'), join(tmp.path, 'ok'), '--entrypoint', '/x', '--layout', join(tmp.path, 'never')]);
    assert.equal(r3.status, 2);
    assert.match(r3.stderr, /--entrypoint cannot be used with -f\/--file/);
    const r4 = runCli(['build', join(tmp.path, 'ok'), '--target', 'x', '--layout', join(tmp.path, 'never')]);
    assert.equal(r4.status, 2);
    assert.equal(r4.stderr, 'ocipush: --target goes with -f/--file (a Dockerfile build)\n');
    const r5 = runCli(['build', join(tmp.path, 'ok'), '--lazy-base', '--read-base', '--layout', join(tmp.path, 'never')]);
    assert.equal(r5.status, 2);
    assert.equal(r5.stderr, 'ocipush: --read-base and --lazy-base go with -f/--file (a Dockerfile build)\n');
    assert.equal(existsSync(join(tmp.path, 'never')), false);
  });
});

describe('an image FROM or COPY --from names that cannot be had', () => {
  let registry: RunningRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
  });

  it('the line and the instruction come first: a tag the layout lacks, a bad reference, a repository the registry lacks (a --from that misspells a stage), another platform', () => {
    fails({ Dockerfile: `ARG IMG=oci:${existing}:nope\nFROM $IMG\n` }, /^ocipush: Dockerfile:2:1: FROM \$IMG: base image .*: no image tagged "nope" \(the layout has: before\)$/);
    fails({ Dockerfile: 'FROM scratch AS builder\nFROM scratch\nCOPY --from=Builder:1 f /f\n', f: 'f' }, /^ocipush: Dockerfile:3:1: COPY --from=Builder:1 f \/f: invalid image reference "Builder:1": /, [], 2);
    const misspelt = `${registry.host}/buidler`;
    fails({ Dockerfile: `FROM scratch AS builder\nFROM scratch\nCOPY --from=${misspelt} /out /out\n` }, new RegExp(`^ocipush: Dockerfile:3:1: COPY --from=${misspelt} /out /out: base image ${misspelt}:latest: manifest not found$`));
    const other = process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64';
    fails({ Dockerfile: `FROM --platform=${other} oci:${existing}:before\n` }, new RegExp(`^ocipush: Dockerfile:1:1: FROM --platform=${other} oci:.*:before: base image oci:.*:before is for linux/\\w+, not ${other} \\(--platform\\)$`), [], 2, [
      // BuildKit checks the FROM lines before it resolves their images: the constant --platform is warned of first.
      new RegExp(`^ocipush: warning: Dockerfile:1: FromPlatformFlagConstDisallowed: FROM --platform flag should not use constant value "${other}"$`),
    ]);
  });
});

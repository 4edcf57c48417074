import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { escapeRegExp, missingPath, run, runCli, tempDir } from '../support/tools.js';
import { assertOneLineError } from './registry-support.js';

/** A path that is not there (each command here fails before it could make it). */
const missing = missingPath('missing');
const missingRe = escapeRegExp(missing);
after(() => assert.equal(existsSync(missing), false, `${missing} was made`));

/**
 * Mistakes on the command line: each is one line on stderr naming the mistake, exit 2, and
 * nothing is done. No registry is contacted (the references name a closed port).
 */
describe('usage errors', () => {
  it('no command, or a misspelt one: one line naming it, with what it may be a slip for, each said once', () => {
    assertOneLineError(runCli([]), /^ocipush: name a command \(see ocipush --help\)$/, 2);
    assertOneLineError(runCli(['biuld', '.']), /^ocipush: unknown command "biuld": did you mean build\? \(ocipush --help lists them\)$/, 2);
    assertOneLineError(runCli(['pusj', '127.0.0.1:9/a:1']), /^ocipush: unknown command "pusj": did you mean push\? /, 2);
    assertOneLineError(runCli(['ver', 'x']), /^ocipush: unknown command "ver": did you mean verify, verify-blob or verify-attestation\? /, 2);
    // Nothing near: no wild guess (yargs said "Did you mean login?" to bogus, "Unknown argument" to this).
    assertOneLineError(runCli(['bogus']), /^ocipush: unknown command "bogus" \(ocipush --help lists them\)$/, 2);
    // docker, crane, oras, cosign and regctl answer `version`.
    assertOneLineError(runCli(['version']), /^ocipush: unknown command "version": did you mean --version\? \(ocipush --help lists them\)$/, 2);
    assertOneLineError(runCli(['frobnicate', 'x']), /^ocipush: unknown command "frobnicate" \(ocipush --help lists them\)$/, 2);
    const json = runCli(['--json', 'bogus']);
    assert.deepEqual(JSON.parse(json.stdout), { error: { code: 'EUSAGE', message: 'unknown command "bogus" (ocipush --help lists them)' } });
    // An alias is a command; an option's value before the command is not one.
    assert.equal(runCli(['cp', '--help']).status, 0);
    assertOneLineError(runCli(['--layout', missing, 'push', '127.0.0.1:9/a:1']), new RegExp(`^ocipush: ${missingRe}: not an OCI image layout`), 1);
  });

  it('a misspelt option with no command is named, not "name a command"', () => {
    assertOneLineError(runCli(['--jsn']), /^ocipush: unknown option --jsn \(ocipush --help lists them\)$/, 2);
    // skopeo's and umoci's -v (and -V) print the version: here that is --version.
    assertOneLineError(runCli(['-V']), /^ocipush: unknown option -V: did you mean --version\? \(ocipush --help lists them\)$/, 2);
    assertOneLineError(runCli(['-v']), /^ocipush: unknown option -v: did you mean --version\? \(ocipush --help lists them\)$/, 2);
    assertOneLineError(runCli(['-q']), /^ocipush: name a command \(see ocipush --help\)$/, 2);
    assert.equal(runCli(['-qh']).status, 0);
  });

  it('help COMMAND is COMMAND --help, on stdout with status 0, as git and crane take it', () => {
    const push = runCli(['push', '--help']);
    for (const args of [['help', 'push'], ['help', 'cp'], ['help', 'index', 'create']]) {
      const r = runCli(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, new RegExp(`^ocipush ${args[1] === 'cp' ? 'copy' : args[1]} `));
    }
    assert.equal(runCli(['help', 'push']).stdout, push.stdout);
    assert.equal(runCli(['help']).status, 0);
    // The general help says how to get a command's; a command's own help does not repeat it.
    assert.match(runCli(['--help']).stdout, /\nocipush help COMMAND \(or ocipush COMMAND --help\) shows its options\.\nFirst run: ocipush build \.\/rootfs, then ocipush push localhost:5000\/app:1 \(README: Quick start\)\.\n$/);
    assert.doesNotMatch(push.stdout, /ocipush help COMMAND/);
    // As git answers `git help help`: the general help, not "unknown command help".
    const helpHelp = runCli(['help', 'help']);
    assert.equal(helpHelp.status, 0, helpHelp.stderr);
    assert.equal(helpHelp.stdout, runCli(['--help']).stdout);
    assertOneLineError(runCli(['help', 'bogus']), /^ocipush: unknown command "bogus" \(ocipush --help lists them\)$/, 2);
    // The help flag before the command (cobra's and git's order too) was missed: "push: missing <reference>", exit 2.
    for (const args of [['-h', 'push'], ['--help', 'push'], ['-qh', 'push'], ['--json', '--help', 'push']]) {
      const r = runCli(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, push.stdout);
    }
  });

  // blob wrote to stdout, rootfs and export said "-o : is a directory", artifact get "cannot create : no such file".
  it('-o "" (an unset "$OUT") is one line naming it, before anything is read: no file, no stdout', async () => {
    const tmp = await tempDir();
    try {
      const digest = `sha256:${'a'.repeat(64)}`;
      for (const [args, what] of [
        [['blob', `127.0.0.1:9/a@${digest}`], 'a file'],
        [['rootfs', '127.0.0.1:9/a:1'], 'a file'],
        [['export', '--layout', join(tmp.path, 'none'), 'app'], 'a file'],
        [['artifact', 'get', '127.0.0.1:9/a:1'], 'a directory'],
      ] as const) {
        const r = runCli([...args, '-o', ''], { cwd: tmp.path });
        assertOneLineError(r, new RegExp(`^ocipush: -o "": name ${what}, or - for stdout$`), 2);
      }
    } finally {
      await tmp.cleanup();
    }
  });

  it('an unknown option is named, and does not swallow the reference after it', () => {
    assertOneLineError(runCli(['push', '--foo', '127.0.0.1:9/a:1']), /^ocipush: unknown option --foo for push /, 2);
    assertOneLineError(runCli(['pull', '127.0.0.1:9/a:1', '--nope=1']), /^ocipush: unknown option --nope for pull /, 2);
    assertOneLineError(runCli(['build', '-Z', '.']), /^ocipush: unknown option -Z for build /, 2);
  });

  // Go's flag package takes -tag; yargs read it as -t ag, and the layout name became the
  // destination: the line blamed the reference, not the dash.
  it('a long option typed with one dash (-tag, -layout=DIR, -version) is named with its two-dash form', () => {
    assertOneLineError(runCli(['push', '127.0.0.1:9/a:1', '-tag', 'hello:0.1']), /^ocipush: unknown option -tag for push: did you mean --tag\? \(a long option takes two dashes\) \(ocipush push --help lists them\)$/, 2);
    assertOneLineError(runCli(['build', '.', '-layout=out']), /^ocipush: unknown option -layout for build: did you mean --layout\? \(a long option takes two dashes\) /, 2);
    assertOneLineError(runCli(['build', '.', '-no-cache']), /^ocipush: unknown option -no-cache for build: did you mean --no-cache\? /, 2);
    assertOneLineError(runCli(['-version']), /^ocipush: unknown option -version: did you mean --version\? \(a long option takes two dashes\) \(ocipush --help lists them\)$/, 2);
    // A short option with its value attached is still read so.
    assertOneLineError(runCli(['push', '127.0.0.1:9/a:1', '-tnone', '--layout', missingPath('layout')]), /not an OCI image layout/, 1);
  });

  // yargs said "Missing required argument: key (see ocipush --help)" and "Arguments raw and
  // config are mutually exclusive": no dashes, and the general help rather than the command's.
  it('a required option left out, or two that exclude each other, are named as typed, with the command', () => {
    assertOneLineError(runCli(['sign', '127.0.0.1:9/a:1']), /^ocipush: sign: missing --key \(Private key: .*\) \(see ocipush sign --help\)$/, 2);
    assertOneLineError(runCli(['attest', '127.0.0.1:9/a:1', '-q', '--key', 'k']), /^ocipush: attest: missing --predicate \(File: .*\) \(see ocipush attest --help\)$/, 2);
    assertOneLineError(runCli(['inspect', '127.0.0.1:9/a:1', '--raw', '--config']), /^ocipush: inspect: --raw and --config cannot be given together \(see ocipush inspect --help\)$/, 2);
    assertOneLineError(runCli(['cp', '--platform', 'linux/amd64', '--all-platforms', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1']), /^ocipush: copy: --platform and --all-platforms cannot be given together /, 2);
    assert.deepEqual(JSON.parse(runCli(['verify-blob', 'f', '--json']).stdout).error.message, 'verify-blob: missing --key (Public key (PEM PUBLIC KEY file, or env://NAME)) (see ocipush verify-blob --help)');
    assert.equal(runCli(['sign', '--help']).status, 0);
  });

  // yargs made an array of a value given twice, and the command failed as a defect: exit 70 and
  // "internal error: TypeError: text.split is not a function" (--platform), "The "paths[0]"
  // argument must be of type string" (--layout).
  it('an option of one value given twice takes the last, as crane\'s, skopeo\'s and docker\'s flags do', async () => {
    const tmp = await tempDir();
    try {
      const rootfs = join(tmp.path, 'rootfs');
      mkdirSync(rootfs);
      writeFileSync(join(rootfs, 'hello'), 'hello\n');
      const [first, last] = [join(tmp.path, 'first'), join(tmp.path, 'last')];
      const built = runCli(['build', rootfs, '--layout', first, '-t', 'one', '--platform', 'linux/amd64', '--layout', last, '--tag', 'two', '--platform', 'linux/arm64', '--json']);
      assert.equal(built.status, 0, built.stderr);
      assert.equal((JSON.parse(built.stdout) as { layout: string }).layout, last);
      assert.equal(existsSync(first), false);
      // The config as skopeo reads it from the layout: the last platform's.
      const config = JSON.parse(run('skopeo', ['inspect', '--config', `oci:${last}:two`])) as { architecture: string };
      assert.equal(config.architecture, 'arm64');
      assert.equal(runCli(['digest', `oci:${last}:two`, '--concurrency', '99', '--concurrency', '2']).status, 0);
    } finally {
      await tmp.cleanup();
    }
  });

  // yargs gives a command none of the words after `--`: `build -- -app` built nothing ("name at
  // least one rootfs"), `tag REF -- v1` said "Not enough non-option arguments: got 1, need at least 2".
  it('a word after -- is named as not read, with how to write it; ./-app is read as a directory', async () => {
    assertOneLineError(runCli(['build', '--layout', 'l', '--', '-app']), /^ocipush: build: "-app" comes after --, where ocipush reads no argument; a file whose name starts with a dash is named \.\/-app \(see ocipush build --help\)$/, 2);
    assertOneLineError(runCli(['tag', '127.0.0.1:9/a:1', '--', 'v1']), /^ocipush: tag: "v1" comes after --, where ocipush reads no argument; write it before -- /, 2);
    const tmp = await tempDir();
    try {
      mkdirSync(join(tmp.path, '-app'));
      writeFileSync(join(tmp.path, '-app', 'hello'), 'hello\n');
      const built = runCli(['build', './-app', '--layout', 'out', '--tag', 'app', '--json'], { cwd: tmp.path });
      assert.equal(built.status, 0, built.stderr);
      assert.equal(run('umoci', ['ls', '--layout', join(tmp.path, 'out')]).trim(), 'app');
    } finally {
      await tmp.cleanup();
    }
  });

  // The aliases were left to yargs: "Unknown arguments: dest-tls-verify, destTlsVerify (see
  // ocipush --help)", and `cp --foo SRC DST` read SRC as --foo's value ("Not enough non-option arguments").
  it('the aliases cp and prune get the checks copy and gc get', () => {
    assertOneLineError(runCli(['cp', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1', '--dest-tls-verify=false']), /^ocipush: unknown option --dest-tls-verify for copy: skopeo's --dest-tls-verify=false is --dest-insecure here /, 2);
    assertOneLineError(runCli(['cp', '--foo', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1']), /^ocipush: unknown option --foo for copy \(ocipush copy --help lists them\)$/, 2);
    assertOneLineError(runCli(['cp', '127.0.0.1:9/a:1']), /^ocipush: copy: missing <destination> .*; usage: ocipush copy <source> <destination> /, 2);
    assertOneLineError(runCli(['prune', '--dryrun']), /^ocipush: unknown option --dryrun for gc: did you mean --dry-run\? /, 2);
    assert.equal(runCli(['cp', '--help']).status, 0);
  });

  // A slip got no hint (`unknown option --plaform for push`), while a misspelt command did; one
  // argument too many got yargs' "Unknown argument: b (see ocipush --help)", naming no command.
  it('a misspelt option names the options it may be a slip for; one argument too many is named with the command\'s form', () => {
    assertOneLineError(runCli(['push', '--plaform', 'linux/arm64', '127.0.0.1:9/a:1']), /^ocipush: unknown option --plaform for push: did you mean --platform\? \(ocipush push --help lists them\)$/, 2);
    assertOneLineError(runCli(['copy', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1', '--dest-plain']), /^ocipush: unknown option --dest-plain for copy: did you mean --dest-plain-http\? /, 2);
    assertOneLineError(runCli(['build', '--entry', 'x', '.']), /^ocipush: unknown option --entry for build: did you mean --entrypoint\? /, 2);
    assertOneLineError(runCli(['inspect', '127.0.0.1:9/a:1', '--jsno']), /^ocipush: unknown option --jsno for inspect: did you mean --json\? /, 2);
    assertOneLineError(runCli(['digest', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1']), /^ocipush: digest: unexpected argument "127\.0\.0\.1:9\/b:1"; usage: ocipush digest <reference> \(see ocipush digest --help\)$/, 2);
    assert.deepEqual(JSON.parse(runCli(['ls', '127.0.0.1:9/a', 'b', '--json']).stdout), { error: { code: 'EUSAGE', message: 'ls: unexpected argument "b"; usage: ocipush ls <repository> (see ocipush ls --help)' } });
    assertOneLineError(runCli(['copy', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1', 'extra']), /^ocipush: copy: unexpected argument "extra"; usage: ocipush copy <source> <destination> /, 2);
    assertOneLineError(runCli(['push', '--layout', 'l', '127.0.0.1:9/a:1', 'oci:l:x', 'extra']), /^ocipush: push: unexpected argument "extra"; usage: ocipush push <reference> \[destination\] /, 2);
    // `--json false` is no --json: a usage error is the line alone (it printed the JSON document too).
    assertOneLineError(runCli(['digest', '--json', 'false', '127.0.0.1:9/a:1', 'b']), /^ocipush: digest: unexpected argument "b"; /, 2);
    assert.equal(JSON.parse(runCli(['digest', '--json', 'true', '127.0.0.1:9/a:1', 'b']).stdout).error.code, 'EUSAGE');
    // The word after a flag that is true or false is its value, as yargs reads it, not an argument.
    for (const args of [['completion', '--json', 'false', 'bash'], ['completion', '-q', 'false', 'bash']]) {
      const r = runCli(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^# ocipush completion for bash/);
    }
  });

  it('a value outside an option\'s choices is one line naming the valid ones', () => {
    assertOneLineError(runCli(['build', '--compression', 'lz4', '.']), /^ocipush: --compression "lz4": expected one of gzip, none, zstd$/, 2);
    assertOneLineError(runCli(['build', '--format', 'weird', '.']), /^ocipush: --format "weird": expected one of oci, docker$/, 2);
    assertOneLineError(runCli(['index', 'make', '--tag', 'x']), /^ocipush: index "make": expected one of create \(see ocipush index --help\)$/, 2);
    assertOneLineError(runCli(['cache', 'rm', '127.0.0.1:9/c']), /^ocipush: cache "rm": expected one of ls, prune /, 2);
  });

  it('a command missing its arguments names what is missing and its form, not yargs\' "Not enough non-option arguments"', () => {
    assertOneLineError(runCli(['push']), /^ocipush: push: missing <reference> \(Destination: \[docker:\/\/\]REGISTRY\/REPOSITORY\[:TAG\|@DIGEST\] \(the tag defaults to latest\)\); usage: ocipush push <reference> \[destination\] \(see ocipush push --help\)$/, 2);
    assertOneLineError(runCli(['copy', 'oci:./x']), /^ocipush: copy: missing <destination> \(.*\); usage: ocipush copy <source> <destination> /, 2);
    assertOneLineError(runCli(['tag', '127.0.0.1:9/a:1', '-q']), /^ocipush: tag: missing <tags\.\.> .*usage: ocipush tag <reference> <tags\.\.> /, 2);
    assertOneLineError(runCli(['index']), /^ocipush: index: missing <action> \(one of create\); usage: ocipush index <action> \[images\.\.\] /, 2);
    for (const verb of ['pull', 'inspect', 'copy', 'sign', 'verify', 'attach', 'artifact', 'cache', 'ls', 'catalog', 'login', 'delete', 'rootfs', 'validate']) {
      const r = runCli([verb]);
      assert.equal(r.status, 2, verb);
      assert.match(r.stderr, new RegExp(`^ocipush: ${verb}: missing <[\\w.-]+>.*; usage: ocipush ${verb} .*\\(see ocipush ${verb} --help\\)\\n$`), verb);
    }
    // --help still answers without them.
    assert.equal(runCli(['push', '--help']).status, 0);
    assert.equal(runCli(['tag', '-qh']).status, 0);
  });

  it('a number option given something else names what was typed, not NaN', () => {
    assertOneLineError(runCli(['push', '127.0.0.1:9/a:1', '--concurrency', 'abc']), /^ocipush: --concurrency "abc": expected a number$/, 2);
    assertOneLineError(runCli(['build', '.', '--threads=x']), /^ocipush: --threads "x": expected a number$/, 2);
    assertOneLineError(runCli(['copy', '--all-tags', '127.0.0.1:9/a', '127.0.0.1:9/b', '-j', 'q']), /^ocipush: -j "q": expected a number$/, 2);
    assertOneLineError(runCli(['ls', '127.0.0.1:9/a', '--page-size', '0x10']), /^ocipush: --page-size "0x10": expected a number$/, 2);
    const json = runCli(['cache', 'ls', '127.0.0.1:9/a', '--keep', 'z', '--json']);
    assert.deepEqual(JSON.parse(json.stdout), { error: { code: 'EUSAGE', message: '--keep "z": expected a number' } });
  });

  it('a value starting with a dash is taken as the value (--owner -1:-1), and judged as one', () => {
    assertOneLineError(runCli(['build', '--owner', '-1:-1', missing]), /^ocipush: --owner "-1:-1": expected UID:GID/, 2);
  });

  it('a flag given a value other than true or false (gc --dry-run=yes) is refused, not read as false', async () => {
    const { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const layout = mkdtempSync(join(tmpdir(), 'ocipush-usage-'));
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(layout, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    const stray = join(layout, 'blobs', 'sha256', 'a'.repeat(64));
    writeFileSync(stray, 'no index entry reaches this blob');
    for (const value of ['yes', '1', 'maybe']) {
      assertOneLineError(runCli(['gc', '--layout', layout, `--dry-run=${value}`]), new RegExp(`^ocipush: --dry-run=${value}: a flag takes true or false, or no value`), 2);
    }
    assertOneLineError(runCli(['push', '127.0.0.1:9/a:1', '--json=yes']), /^ocipush: --json=yes: a flag takes true or false/, 2);
    assert.deepEqual(readdirSync(join(layout, 'blobs', 'sha256')), ['a'.repeat(64)], 'nothing removed');
    assert.equal(runCli(['gc', '--layout', layout, '--dry-run=true', '-q']).status, 0);
    assert.deepEqual(readdirSync(join(layout, 'blobs', 'sha256')), ['a'.repeat(64)]);
    rmSync(layout, { recursive: true, force: true });
  });

  it('a registry URL (http://, https://) is named as such, with the reference to write, by every verb', () => {
    const fix = /a reference has no http:\/\/: write 127\.0\.0\.1:9\/app:1 \(plain HTTP is --plain-http; localhost and 127\.x need no flag\)$/;
    for (const args of [['push', 'http://127.0.0.1:9/app:1'], ['pull', 'http://127.0.0.1:9/app:1'], ['inspect', 'http://127.0.0.1:9/app:1'],
      ['copy', 'http://127.0.0.1:9/app:1', `oci:${missing}/x`], ['build', missing, '--push', 'http://127.0.0.1:9/app:1'],
      ['index', 'create', '--tag', 'http://127.0.0.1:9/app:1', '127.0.0.1:9/a:1']]) {
      assertOneLineError(runCli(args), fix, 2);
    }
    assertOneLineError(runCli(['catalog', 'http://127.0.0.1:9']), /^ocipush: http:\/\/127\.0\.0\.1:9: expected a registry host\[:port\], without http:\/\/ \(plain HTTP is --plain-http\)$/, 2);
  });

  it('push IMAGE REF (a name of the layout first, as docker push takes it) says to name it with --tag; pull REF DIR says oci:DIR', () => {
    assertOneLineError(runCli(['push', 'app:1', '127.0.0.1:9/app:1']), /^ocipush: source "app:1": expected a layout as oci:DIR\[:NAME\] \(or a directory holding one\); an image of the layout is named with --tag: ocipush push 127\.0\.0\.1:9\/app:1 --tag app:1$/, 2);
    assertOneLineError(runCli(['pull', '127.0.0.1:9/app:1', `${missing}/pulled`]), new RegExp(`^ocipush: destination "${missingRe}/pulled": expected a layout as oci:DIR\\[:NAME\\] \\(or a directory holding one\\); a new layout is named oci:${missingRe}/pulled$`), 2);
    // A path is no image name: no --tag hint for it.
    assertOneLineError(runCli(['push', './nonexistent', '127.0.0.1:9/app:1']), /^ocipush: source "\.\/nonexistent": expected a layout as oci:DIR\[:NAME\] \(or a directory holding one\)$/, 2);
  });

  it('push and pull with the layout and the registry swapped say which comes first, in the form to run', () => {
    assertOneLineError(runCli(['push', '127.0.0.1:9/app:1', 'oci:./build:app']), /; the layout comes first, as skopeo copy takes them: ocipush push oci:\.\/build:app 127\.0\.0\.1:9\/app:1$/, 2);
    assertOneLineError(runCli(['push', 'docker://127.0.0.1:9/app:1', './build']), /; the layout comes first, as skopeo copy takes them: ocipush push oci:\.\/build docker:\/\/127\.0\.0\.1:9\/app:1$/, 2);
    assertOneLineError(runCli(['pull', './pulled', '127.0.0.1:9/app:1']), /^ocipush: destination "127\.0\.0\.1:9\/app:1": .*; the registry comes first, as skopeo copy takes them: ocipush pull 127\.0\.0\.1:9\/app:1 oci:\.\/pulled$/, 2);
    assertOneLineError(runCli(['pull', `oci:${missing}/p:x`, '127.0.0.1:9/app:1']), new RegExp(`; the registry comes first, as skopeo copy takes them: ocipush pull 127\\.0\\.0\\.1:9/app:1 oci:${missingRe}/p:x$`), 2);
    // Two registries: push copies nothing between them; copy does.
    assertOneLineError(runCli(['push', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1']), /; an image in a registry is copied with: ocipush copy 127\.0\.0\.1:9\/a:1 127\.0\.0\.1:9\/b:1$/, 2);
  });

  it('docker login\'s -p / --password is refused with the --password-stdin line to use instead, the secret never echoed', () => {
    const r = runCli(['login', '127.0.0.1:9', '-u', 'me', '-p', 's3cret-value']);
    assertOneLineError(r, /^ocipush: -p: a password is never taken as an argument \(it would show in ps and the shell's history\); pipe it to --password-stdin: echo "\$TOKEN" \| ocipush login … --password-stdin$/, 2);
    assert.doesNotMatch(r.stderr + r.stdout, /s3cret-value/);
    assertOneLineError(runCli(['push', '127.0.0.1:9/a:1', '--password=s3cret-value']), /^ocipush: --password: a password is never taken as an argument .*pipe it to --password-stdin: echo "\$TOKEN" \| ocipush push … --password-stdin$/, 2);
    assertOneLineError(runCli(['copy', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1', '--dest-password', 's3cret-value']), /^ocipush: --dest-password: .*pipe it to --dest-password-stdin: /, 2);
    // A command that takes no password keeps the plain line.
    assertOneLineError(runCli(['gc', '-p', 'x']), /^ocipush: unknown option -p for gc /, 2);
  });

  it('skopeo\'s --tls-verify and cosign\'s --allow-*-registry name the flags that do it here', () => {
    // They are the other tools' own flags (skopeo 1.9 here).
    assert.match(run('skopeo', ['copy', '--help']), /--dest-tls-verify/);
    assert.match(run('skopeo', ['inspect', '--help']), /--tls-verify/);
    assertOneLineError(runCli(['push', '127.0.0.1:9/a:1', '--tls-verify=false']), /^ocipush: unknown option --tls-verify for push: skopeo's --tls-verify=false is --insecure here \(any certificate, or plain HTTP when the registry speaks no TLS\); localhost needs neither$/, 2);
    assertOneLineError(runCli(['copy', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1', '--dest-tls-verify=false']), /^ocipush: unknown option --dest-tls-verify for copy: skopeo's --dest-tls-verify=false is --dest-insecure here \(any certificate, or plain HTTP when the registry speaks no TLS\)/, 2);
    assertOneLineError(runCli(['copy', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1', '--src-tls-verify', 'false']), /^ocipush: unknown option --src-tls-verify for copy: skopeo's --src-tls-verify=false is --src-insecure here /, 2);
    // On the verbs cosign has they are taken as they are (cli/cosign-registry-flags.test); elsewhere named.
    assertOneLineError(runCli(['push', '127.0.0.1:9/a:1', '--allow-insecure-registry']), /^ocipush: unknown option --allow-insecure-registry for push: cosign's --allow-insecure-registry is --insecure here \(accept any certificate\)$/, 2);
    assertOneLineError(runCli(['copy', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1', '--allow-http-registry']), /^ocipush: unknown option --allow-http-registry for copy: cosign's --allow-http-registry is --plain-http here$/, 2);
    // A command that reaches no registry keeps the plain line.
    assertOneLineError(runCli(['gc', '--tls-verify=false']), /^ocipush: unknown option --tls-verify for gc \(ocipush gc --help lists them\)$/, 2);
  });

  it('skopeo copy\'s --digestfile, --creds, --authfile, --remove-signatures, --preserve-digests and --format name what does it here', () => {
    // They are skopeo 1.9's own flags.
    assert.match(run('skopeo', ['copy', '--help']), /--digestfile[\s\S]*--preserve-digests[\s\S]*--remove-signatures/);
    const copy = (...flags: string[]) => runCli(['copy', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1', ...flags]);
    assertOneLineError(copy('--digestfile', 'd'), /^ocipush: unknown option --digestfile for copy: skopeo's --digestfile is --digest-file here$/, 2);
    const creds = copy('--dest-creds', 'alice:s3cret-pw');
    assertOneLineError(creds, /^ocipush: unknown option --dest-creds for copy: skopeo's --dest-creds USER:PASSWORD is --dest-username USER and the password piped to --dest-password-stdin here \(a password is never taken as an argument\)$/, 2);
    assert.doesNotMatch(creds.stderr, /s3cret/);
    assertOneLineError(copy('--src-creds=alice:s3cret-pw'), /^ocipush: unknown option --src-creds for copy: skopeo's --src-creds USER:PASSWORD is --src-username USER and the password piped to --src-password-stdin here/, 2);
    assertOneLineError(runCli(['push', 'oci:x:1', '127.0.0.1:9/a:1', '--creds', 'alice:s3cret-pw']), /^ocipush: unknown option --creds for push: skopeo's --creds USER:PASSWORD is --username USER and the password piped to --password-stdin here/, 2);
    assertOneLineError(copy('--dest-authfile', 'auth.json'), /^ocipush: unknown option --dest-authfile for copy: skopeo's --dest-authfile FILE is REGISTRY_AUTH_FILE=FILE here .* or DOCKER_CONFIG=DIR /, 2);
    assertOneLineError(copy('--remove-signatures'), /^ocipush: unknown option --remove-signatures for copy: skopeo's --remove-signatures is --no-referrers here/, 2);
    assertOneLineError(copy('--preserve-digests'), /^ocipush: unknown option --preserve-digests for copy: copy always keeps every manifest's bytes and digest: drop it$/, 2);
    assertOneLineError(copy('--format', 'v2s2'), /^ocipush: unknown option --format for copy: skopeo's --format v2s2\|oci is ocipush mutate SRC DST --format docker\|oci here \(copy keeps the bytes\)$/, 2);
    assertOneLineError(runCli(['push', '127.0.0.1:9/a:1', '--registry-config', '/tmp/config.json']), /^ocipush: unknown option --registry-config for push: oras's --registry-config FILE is DOCKER_CONFIG=DIR here for a DIR\/config\.json, or REGISTRY_AUTH_FILE=FILE$/, 2);
    // A command without the flag it would be keeps the plain line.
    assertOneLineError(runCli(['gc', '--digestfile', 'd']), /^ocipush: unknown option --digestfile for gc \(ocipush gc --help lists them\)$/, 2);
  });

  it('-f - or --predicate - beside --password-stdin: one usage line, before either is read (standard input is one stream)', () => {
    const build = runCli(['build', '-f', '-', '.', '--base', '127.0.0.1:9/base:1', '-u', 'alice', '--password-stdin'], { input: 'FROM 127.0.0.1:9/base:1\nSecret-pw-71\n' });
    assertOneLineError(build, /^ocipush: -f - and --password-stdin both read standard input: give the Dockerfile as a file, or the password in OCIPUSH_USERNAME\/OCIPUSH_PASSWORD or a docker login$/, 2);
    const attest = runCli(['attest', '127.0.0.1:9/a:1', '--key', 'k', '--predicate', '-', '-u', 'alice', '--password-stdin'], { input: '{}\n' });
    assertOneLineError(attest, /^ocipush: --predicate - and --password-stdin both read standard input: give the predicate as a file, or the password in OCIPUSH_USERNAME\/OCIPUSH_PASSWORD or a docker login$/, 2);
  });

  it('skopeo\'s --all, --multi-arch and --override-arch/-os/-variant name what chooses platforms here', () => {
    // They are skopeo 1.9's own flags.
    assert.match(run('skopeo', ['copy', '--help']), /--all\b[\s\S]*--multi-arch/);
    assert.match(run('skopeo', ['--help']), /--override-arch[\s\S]*--override-os[\s\S]*--override-variant/);
    assertOneLineError(runCli(['copy', '--all', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1']), /^ocipush: unknown option --all for copy: skopeo's --all is what copy does without --platform: every platform of an index \(--platform a,b keeps some\)$/, 2);
    assertOneLineError(runCli(['copy', '--multi-arch', 'all', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1']), /^ocipush: unknown option --multi-arch for copy: skopeo's --multi-arch all is what copy does without --platform/, 2);
    // index-only is not every platform: the line says there is no such copy, and what system is.
    assertOneLineError(runCli(['copy', '--multi-arch', 'index-only', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1']),
      /--multi-arch system is --platform with this machine's os\/arch; index-only has no counterpart: an index goes with its images$/, 2);
    assertOneLineError(runCli(['inspect', '--override-arch', 'arm64', '127.0.0.1:9/a:1']), /^ocipush: unknown option --override-arch for inspect: skopeo's --override-arch is --platform os\/arch\[\/variant\] here \(--platform linux\/arm64\/v8\)$/, 2);
    assertOneLineError(runCli(['pull', '--override-variant', 'v6', '127.0.0.1:9/a:1']), /^ocipush: unknown option --override-variant for pull: skopeo's --override-variant is --platform/, 2);
    // A command that takes one image keeps the plain line for --all.
    assertOneLineError(runCli(['rootfs', '--all', '127.0.0.1:9/a:1']), /^ocipush: unknown option --all for rootfs \(ocipush rootfs --help lists them\)$/, 2);
  });

  it('--platform is checked against the spec\'s values by every verb that takes it, before any request', () => {
    const valid = /^ocipush: --platform "linux\/amd65": unknown architecture "amd65"; the OCI image spec's values are .*\(--unlisted-platform takes it as it is\)$/;
    for (const args of [
      ['digest', '127.0.0.1:9/a:1'], ['manifest', '127.0.0.1:9/a:1'], ['config', '127.0.0.1:9/a:1'], ['rootfs', '127.0.0.1:9/a:1', '-o', '/dev/null'],
      ['sbom', '127.0.0.1:9/a:1'], ['validate', '127.0.0.1:9/a:1'], ['push', '127.0.0.1:9/a:1', '--layout', missing],
    ]) assertOneLineError(runCli([...args, '--platform', 'linux/amd65']), valid, 2);
    assertOneLineError(runCli(['copy', '127.0.0.1:9/a:1', '127.0.0.1:9/b:1', '--platform', 'linux/arm64,linux/amd65']), valid, 2);
    assertOneLineError(runCli(['mutate', '127.0.0.1:9/a:1', '--label', 'k=v', '--platform', 'linux/arm64,linux/amd65']), valid, 2);
    // Taken as it is with --unlisted-platform: the registry that is not there is what stops it.
    const unlisted = runCli(['digest', '127.0.0.1:9/a:1', '--platform', 'linux/amd65', '--unlisted-platform']);
    assert.equal(unlisted.status, 1, unlisted.stderr);
    assert.doesNotMatch(unlisted.stderr, /unknown architecture/);
  });

  it('tag with its two arguments swapped (the new tag first) says the image comes first, before any request', () => {
    assertOneLineError(runCli(['tag', '1.4', '127.0.0.1:9/app:1']), /^ocipush: "1\.4" is a tag, "127\.0\.0\.1:9\/app:1" an image: the image comes first, its new tags after: ocipush tag 127\.0\.0\.1:9\/app:1 1\.4$/, 2);
  });

  it('an option missing its value says so', () => {
    assertOneLineError(runCli(['push', '127.0.0.1:9/a:1', '--layout']), /^ocipush: option --layout needs a value/, 2);
  });

  it('a newline inside a reference or a tag stays on one line, escaped', () => {
    assertOneLineError(runCli(['push', '127.0.0.1:9/a:b\nc']), /^ocipush: invalid image reference "127\.0\.0\.1:9\/a:b\\nc": invalid tag "b\\nc" \(letters, digits and _ \. -, at most 128, not starting with \. or -\)$/, 2);
    assertOneLineError(runCli(['push', '127.0.0.1:9/a:1', '--also-tag', 'x\ny']), /^ocipush: --also-tag "x\\ny": not a valid tag$/, 2);
  });

  it('--created beyond any date is a usage error, not a RangeError', () => {
    assertOneLineError(runCli(['build', '--created', '99999999999999999999', missing]), /^ocipush: --created "99999999999999999999": /, 2);
  });

  it('under --json, a usage error found by the argument parser is JSON on stdout too', () => {
    for (const args of [['push', '--foo', '127.0.0.1:9/a:1'], ['push'], ['index', 'make', '--tag', 'x'], ['build', '--compression', 'lz4']]) {
      const r = runCli([...args, '--json']);
      assert.equal(r.status, 2, r.stderr);
      const body = JSON.parse(r.stdout) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'EUSAGE');
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.equal(`ocipush: ${body.error.message}`, r.stderr.trimEnd());
    }
  });
});

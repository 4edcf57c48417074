import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, requireTool, tempDir } from '../support/tools.js';
import { MiB, skopeoTagsAsync, umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError, runCliAsync } from './registry-support.js';
import { envWith, PASSWORD, startTwoRegistries, type TwoRegistries } from './copy-support.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let regs: TwoRegistries;
let image: UmociImage;
let n = 0;

before(async () => {
  tmp = await tempDir();
  image = umociImage(tmp.path, 'v1', [0.2 * MiB]);
  regs = await startTwoRegistries(tmp.path);
});
after(async () => {
  await regs?.stop();
  await tmp?.cleanup();
});

function freshConfigDir(config?: unknown): string {
  const dir = join(tmp.path, `docker-${++n}`);
  mkdirSync(dir, { recursive: true });
  if (config !== undefined) writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

function readConfig(dir: string): { auths?: Record<string, { auth?: string }>; credsStore?: string; [k: string]: unknown } {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
}

function assertNoSecret(r: { stdout: string; stderr: string }, secret: string): void {
  assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'the password is never printed');
}

describe('login and logout', () => {
  for (const which of ['staging', 'production'] as const) {
    it(`${which === 'staging' ? 'htpasswd' : 'token'} registry: a wrong password stores nothing; the right one is checked, then stored in config.json`, async () => {
      const host = regs[which].host;
      const dir = freshConfigDir({ credHelpers: {}, experimental: 'enabled' });
      const wrong = `wrong-${PASSWORD}`;
      const bad = await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env: envWith(dir), input: wrong });
      assert.equal(bad.status, 1, bad.stderr);
      assert.equal(bad.stderr.trimEnd().split('\n').length, 1);
      assert.match(bad.stderr, /^ocipush: authentication to 127\.0\.0\.1:\d+ failed|credentials refused|refused/);
      assertNoSecret(bad, wrong);
      assert.deepEqual(readConfig(dir), { credHelpers: {}, experimental: 'enabled' }, 'the file is untouched');

      const good = await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env: envWith(dir), input: `${PASSWORD}\n` });
      assertOk(good);
      assertNoSecret(good, PASSWORD);
      const config = readConfig(dir);
      assert.equal(config.experimental, 'enabled', 'other fields kept');
      assert.equal(Buffer.from(config.auths![host]!.auth!, 'base64').toString(), `alice:${PASSWORD}`);
      assert.equal(statSync(join(dir, 'config.json')).mode & 0o777, 0o600);
      // What was stored is what the next command uses.
      assertOk(await runCliAsync(['push', `${host}/login/app:1`, '--layout', image.layout], { env: envWith(dir) }));

      // What it did is said once, on stdout, as docker logout says it.
      const out = await runCliAsync(['logout', host], { env: envWith(dir) });
      assertOk(out);
      assert.deepEqual(readConfig(dir).auths, {});
      assert.equal(out.stdout, `Removed login credentials for ${host}\n`);
      assert.equal(out.stderr, '');
      const again = await runCliAsync(['logout', host], { env: envWith(dir) });
      assertOk(again);
      assert.equal(again.stdout, `Not logged in to ${host}\n`);
      assert.equal(again.stderr, '');
    });
  }

  it('a credsStore helper keeps the secret (store, get, erase), the config only names the registry', async () => {
    const bin = join(tmp.path, 'bin');
    const store = join(tmp.path, 'helper-store');
    mkdirSync(bin, { recursive: true });
    mkdirSync(store, { recursive: true });
    const helper = join(bin, 'docker-credential-test');
    writeFileSync(helper, [
      '#!/bin/sh',
      'echo "$*" >> "$HELPER_STORE/calls"',
      'case "$1" in',
      '  store) cat > "$HELPER_STORE/secret.json" ;;',
      '  get) cat > /dev/null; if [ -f "$HELPER_STORE/secret.json" ]; then cat "$HELPER_STORE/secret.json"; else echo "credentials not found in native keychain"; exit 1; fi ;;',
      '  erase) cat > /dev/null; if [ -f "$HELPER_STORE/secret.json" ]; then rm "$HELPER_STORE/secret.json"; else echo "credentials not found in native keychain"; exit 1; fi ;;',
      '  *) exit 1 ;;',
      'esac',
      '',
    ].join('\n'));
    chmodSync(helper, 0o755);
    const host = regs.production.host;
    const dir = freshConfigDir({ credsStore: 'test' });
    const env = envWith(dir, { PATH: `${bin}:${process.env.PATH}`, HELPER_STORE: store });

    assertOk(await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD }));
    const secret = JSON.parse(readFileSync(join(store, 'secret.json'), 'utf8')) as Record<string, string>;
    assert.deepEqual(secret, { ServerURL: host, Username: 'alice', Secret: PASSWORD });
    assert.deepEqual(readConfig(dir), { credsStore: 'test', auths: { [host]: {} } });
    assert.ok(!readFileSync(join(dir, 'config.json'), 'utf8').includes(PASSWORD));
    assert.deepEqual(readFileSync(join(store, 'calls'), 'utf8').trim().split('\n'), ['store'], 'the secret is never an argument');

    const ls = await runCliAsync(['ls', `${host}/nothing/here`], { env });
    assertOneLineError(ls, /repository not found$/, 1);

    assertOk(await runCliAsync(['logout', host], { env }));
    assert.ok(!existsSync(join(store, 'secret.json')));
    assert.deepEqual(readConfig(dir), { credsStore: 'test', auths: {} });
  });

  it('a credHelpers helper that prints a log line after its answer is read as docker and skopeo read it (the first JSON document)', async () => {
    requireTool('skopeo');
    const bin = join(tmp.path, 'bin-chatty');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'docker-credential-chatty'), [
      '#!/bin/sh',
      'cat > /dev/null',
      `printf '{"ServerURL":"%s","Username":"alice","Secret":"%s"}\\n' "$HOST" "$SECRET"`,
      'echo "debug: answered from the vault cache in 3 ms"',
      '',
    ].join('\n'));
    chmodSync(join(bin, 'docker-credential-chatty'), 0o755);
    const host = regs.staging.host;
    const dir = freshConfigDir({ credHelpers: { [host]: 'chatty' } });
    const env = envWith(dir, { PATH: `${bin}:${process.env.PATH}`, HOST: host, SECRET: PASSWORD });
    assertOk(await runCliAsync(['push', `${host}/chatty/app:1`, '--layout', image.layout], { env }));
    const ls = await runCliAsync(['ls', `${host}/chatty/app`], { env });
    assertOk(ls);
    assert.equal(ls.stdout, '1\n');
    assert.deepEqual(await skopeoTagsAsync(`${host}/chatty/app`, { env }), ['1'], 'skopeo reads the same helper answer');
  });

  it('a skopeo login is used beside a Docker config that has only other registries, and skopeo uses an ocipush login', async () => {
    requireTool('skopeo');
    const host = regs.staging.host;
    const home = join(tmp.path, `home-${++n}`);
    const runtime = join(home, 'run');
    mkdirSync(runtime, { recursive: true });
    // A docker login to another registry long ago: a config.json that names this one nowhere.
    const dir = freshConfigDir({ auths: { 'ghcr.io': { auth: Buffer.from('someone:else').toString('base64') } } });
    const skopeo = (args: string[], env: NodeJS.ProcessEnv, input?: string) =>
      execFileSync('skopeo', args, { env: { ...process.env, HOME: home, XDG_RUNTIME_DIR: runtime, DOCKER_CONFIG: undefined, REGISTRY_AUTH_FILE: undefined, ...env }, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    skopeo(['login', '--tls-verify=false', '-u', 'alice', '--password-stdin', host], {}, PASSWORD);
    assert.ok(existsSync(join(runtime, 'containers', 'auth.json')), 'skopeo login writes $XDG_RUNTIME_DIR/containers/auth.json');
    const env = envWith(dir, { HOME: home, XDG_RUNTIME_DIR: runtime, REGISTRY_AUTH_FILE: undefined });
    assertOk(await runCliAsync(['push', `${host}/skopeo-login/app:1`, '--layout', image.layout], { env }));

    // REGISTRY_AUTH_FILE (skopeo login --authfile) is read the same way.
    const authFile = join(home, 'auth-file.json');
    skopeo(['login', '--tls-verify=false', '--authfile', authFile, '-u', 'alice', '--password-stdin', host], {}, PASSWORD);
    skopeo(['logout', host], {});
    const viaAuthFile = envWith(dir, { HOME: home, XDG_RUNTIME_DIR: runtime, REGISTRY_AUTH_FILE: authFile });
    assertOk(await runCliAsync(['push', `${host}/skopeo-login/app:2`, '--layout', image.layout], { env: viaAuthFile }));
    // ocipush logout edits the Docker config; the skopeo login it would go on using is named.
    const logout = await runCliAsync(['logout', host], { env: viaAuthFile });
    assertOk(logout);
    assert.match(logout.stderr, new RegExp(`a login for ${host.replace(/\./g, '\\.')} remains in ${authFile.replace(/\./g, '\\.')}, and ocipush still uses it`));
    const anonymous = await runCliAsync(['push', `${host}/skopeo-login/app:3`, '--layout', image.layout], { env });
    assertOneLineError(anonymous, /no credentials/, 1);

    // The other way: what ocipush login stores, skopeo reads (it looks at $DOCKER_CONFIG too).
    const fresh = freshConfigDir();
    assertOk(await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env: envWith(fresh), input: PASSWORD }));
    skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/skopeo-login/app:1`], { DOCKER_CONFIG: fresh });
  });

  it('login and logout of a registry keep the namespace-scoped logins skopeo and podman wrote in the same file', async () => {
    requireTool('skopeo');
    const host = regs.staging.host;
    const dir = freshConfigDir();
    const config = join(dir, 'config.json');
    // podman and skopeo share the Docker config with REGISTRY_AUTH_FILE=~/.docker/config.json or --authfile.
    execFileSync('skopeo', ['login', '--tls-verify=false', '--authfile', config, '-u', 'alice', '--password-stdin', `${host}/team-a`], { input: PASSWORD, stdio: ['pipe', 'pipe', 'pipe'] });
    const scoped = readConfig(dir).auths![`${host}/team-a`];
    assert.ok(scoped?.auth, 'skopeo wrote a namespace-scoped entry');

    assertOk(await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env: envWith(dir), input: PASSWORD }));
    assert.deepEqual(Object.keys(readConfig(dir).auths!).sort(), [host, `${host}/team-a`].sort());
    const out = await runCliAsync(['logout', host], { env: envWith(dir) });
    assertOk(out);
    assert.deepEqual(readConfig(dir).auths, { [`${host}/team-a`]: scoped }, 'only the registry\'s own entry is removed');

    // The namespace's login still works, for ocipush and for skopeo.
    assertOk(await runCliAsync(['push', `${host}/team-a/app:1`, '--layout', image.layout], { env: envWith(dir) }));
    execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', '--authfile', config, `docker://${host}/team-a/app:1`], { stdio: ['pipe', 'pipe', 'pipe'] });
    assertOneLineError(await runCliAsync(['push', `${host}/team-b/app:1`, '--layout', image.layout], { env: envWith(dir) }), /no credentials/, 1);
  });

  it('a config.json that is a symlink stays one: login and logout write the file it points to', async () => {
    requireTool('skopeo');
    const host = regs.staging.host;
    const dotfiles = join(tmp.path, `dotfiles-${++n}`);
    mkdirSync(dotfiles, { recursive: true });
    const kept = join(dotfiles, 'docker-config.json');
    writeFileSync(kept, JSON.stringify({ auths: { 'ghcr.io': { auth: Buffer.from('someone:else').toString('base64') } }, detachKeys: 'ctrl-x' }));
    const dir = freshConfigDir();
    symlinkSync(`../${basename(dotfiles)}/docker-config.json`, join(dir, 'config.json'));

    assertOk(await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env: envWith(dir), input: PASSWORD }));
    assert.ok(lstatSync(join(dir, 'config.json')).isSymbolicLink(), 'the link is kept');
    const stored = JSON.parse(readFileSync(kept, 'utf8')) as { auths: Record<string, { auth: string }>; detachKeys: string };
    assert.deepEqual(Object.keys(stored.auths).sort(), ['ghcr.io', host].sort());
    assert.equal(stored.detachKeys, 'ctrl-x');
    assert.equal(statSync(kept).mode & 0o777, 0o600);
    assertOk(await runCliAsync(['push', `${host}/linked/app:1`, '--layout', image.layout], { env: envWith(dir) }));
    execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/linked/app:1`], { env: { ...process.env, DOCKER_CONFIG: dir, REGISTRY_AUTH_FILE: join(dir, 'config.json') }, stdio: ['pipe', 'pipe', 'pipe'] });

    assertOk(await runCliAsync(['logout', host], { env: envWith(dir) }));
    assert.ok(lstatSync(join(dir, 'config.json')).isSymbolicLink());
    assert.deepEqual(Object.keys((JSON.parse(readFileSync(kept, 'utf8')) as { auths: object }).auths), ['ghcr.io']);

    // A dangling link (the dotfile not made yet) is created where it points, as docker login does.
    const dangling = freshConfigDir();
    symlinkSync(join(dotfiles, 'later.json'), join(dangling, 'config.json'));
    assertOk(await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env: envWith(dangling), input: PASSWORD }));
    assert.ok(lstatSync(join(dangling, 'config.json')).isSymbolicLink());
    assert.ok(existsSync(join(dotfiles, 'later.json')));
  });

  it('login HOST/NAMESPACE is a login for that namespace only, as podman login writes it and skopeo reads it', async () => {
    requireTool('skopeo');
    const host = regs.staging.host;
    const dir = freshConfigDir({ auths: { 'ghcr.io': { auth: Buffer.from('someone:else').toString('base64') } } });
    const env = envWith(dir);
    const login = await runCliAsync(['login', `${host}/team-a/`, '-u', 'alice', '--password-stdin', '--json'], { env, input: PASSWORD });
    assertOk(login);
    assert.equal(JSON.parse(login.stdout).registry, `${host}/team-a`);
    const auths = readConfig(dir).auths!;
    assert.deepEqual(Object.keys(auths).sort(), ['ghcr.io', `${host}/team-a`].sort());
    assert.equal(Buffer.from(auths[`${host}/team-a`]!.auth!, 'base64').toString(), `alice:${PASSWORD}`);

    assertOk(await runCliAsync(['push', `${host}/team-a/app:1`, '--layout', image.layout], { env }));
    assertOneLineError(await runCliAsync(['push', `${host}/team-b/app:1`, '--layout', image.layout], { env }), /no credentials/, 1);
    const skopeoEnv = { ...process.env, DOCKER_CONFIG: dir, REGISTRY_AUTH_FILE: join(dir, 'config.json') };
    execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/team-a/app:1`], { env: skopeoEnv, stdio: ['pipe', 'pipe', 'pipe'] });

    assertOneLineError(await runCliAsync(['login', `${host}/Team-A`, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD }), /expected a registry host\[:port\] or host\[:port\]\/namespace/, 2);
    assertOneLineError(await runCliAsync(['login', `${host}/team-a:1`, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD }), /expected a registry host\[:port\] or host\[:port\]\/namespace/, 2);
    // A credsStore keeps one secret per registry: a namespace's login is refused, nothing written.
    const store = freshConfigDir({ credsStore: 'never-run' });
    assertOneLineError(await runCliAsync(['login', `${host}/team-a`, '-u', 'alice', '--password-stdin'], { env: envWith(store), input: PASSWORD }), /cannot store a login for .*team-a: .* docker-credential-never-run, which holds one per registry/, 1);
    assert.deepEqual(readConfig(store), { credsStore: 'never-run' });

    const out = await runCliAsync(['logout', `${host}/team-a`], { env });
    assertOk(out);
    assert.deepEqual(Object.keys(readConfig(dir).auths!), ['ghcr.io']);
  });

  it('a credential helper that never answers store or erase fails login and logout in one line naming it', { timeout: 60_000 }, async () => {
    const bin = join(tmp.path, `bin-hung-${++n}`);
    mkdirSync(bin, { recursive: true });
    // A helper stuck on a locked keyring: reads its input, then never answers (killed by the timeout).
    writeFileSync(join(bin, 'docker-credential-hung'), '#!/bin/sh\ncat > /dev/null\nexec sleep 3600\n');
    chmodSync(join(bin, 'docker-credential-hung'), 0o755);
    const host = regs.staging.host;
    const before = { credsStore: 'hung', auths: { [host]: {} } };
    const dir = freshConfigDir(before);
    const env = envWith(dir, { PATH: `${bin}:${process.env.PATH}`, OCIPUSH_CREDENTIAL_HELPER_TIMEOUT: '0.5' });
    const login = await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD });
    assertOneLineError(login, /^ocipush: docker credential helper docker-credential-hung store did not answer within 0\.5s$/, 1);
    assertNoSecret(login, PASSWORD);
    assert.deepEqual(readConfig(dir), before, 'nothing written');
    const logout = await runCliAsync(['logout', host], { env });
    assertOneLineError(logout, /^ocipush: docker credential helper docker-credential-hung erase did not answer within 0\.5s$/, 1);
  });

  it('the legacy ~/.dockercfg is read last, as skopeo reads it, and logout names it', async () => {
    requireTool('skopeo');
    const host = regs.staging.host;
    const home = join(tmp.path, `home-legacy-${++n}`);
    const runtime = join(home, 'run');
    mkdirSync(runtime, { recursive: true });
    // docker before 1.7: no "auths" level, URL keys.
    writeFileSync(join(home, '.dockercfg'), JSON.stringify({ [`https://${host}/v1/`]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64'), email: 'alice@example.com' } }));
    const env = envWith(join(home, '.docker'), { HOME: home, XDG_RUNTIME_DIR: runtime, XDG_CONFIG_HOME: undefined, REGISTRY_AUTH_FILE: undefined });
    assertOk(await runCliAsync(['push', `${host}/legacy/app:1`, '--layout', image.layout], { env }));
    execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/legacy/app:1`], {
      env: { ...process.env, HOME: home, XDG_RUNTIME_DIR: runtime, DOCKER_CONFIG: undefined, REGISTRY_AUTH_FILE: undefined, XDG_CONFIG_HOME: undefined }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    const logout = await runCliAsync(['logout', host], { env });
    assertOk(logout);
    assert.match(logout.stderr, /remains in .*\.dockercfg, and ocipush still uses it \(no tool writes that file any more: edit or remove it\)/);
  });

  it('logins at once keep each other\'s entry: one whose helper is slow to store does not write back the file as it was before another login', async () => {
    const bin = join(tmp.path, `bin-slow-${++n}`);
    const state = join(tmp.path, `slow-state-${n}`);
    mkdirSync(bin, { recursive: true });
    mkdirSync(state, { recursive: true });
    // A helper that says it is storing, then waits for the test to let it finish (a keyring's prompt).
    writeFileSync(join(bin, 'docker-credential-slow'), [
      '#!/bin/sh',
      'cat > "$STATE/secret.json"',
      'touch "$STATE/storing"',
      'while [ ! -e "$STATE/release" ]; do sleep 0.05; done',
      '',
    ].join('\n'));
    chmodSync(join(bin, 'docker-credential-slow'), 0o755);
    const slowHost = regs.staging.host;
    const host = regs.production.host;
    const dir = freshConfigDir({ credHelpers: { [slowHost]: 'slow' } });
    const env = envWith(dir, { PATH: `${bin}:${process.env.PATH}`, STATE: state });
    const slow = runCliAsync(['login', slowHost, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD });
    // Until the helper is storing, or the login has ended without reaching it (then failed here,
    // with its stderr, instead of waiting for ever).
    let ended: { stderr: string } | undefined;
    void slow.then((r) => { ended = r; });
    while (!existsSync(join(state, 'storing')) && !ended) await new Promise((r) => setTimeout(r, 20));
    assert.ok(existsSync(join(state, 'storing')), `the login ended before its helper stored: ${ended?.stderr}`);
    assertOk(await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD }));
    writeFileSync(join(state, 'release'), '');
    assertOk(await slow);
    assert.deepEqual(readConfig(dir).auths, { [host]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64') }, [slowHost]: {} });

    // Logins and logouts of several namespaces at once: every one of them is in the file (or gone from it).
    const many = freshConfigDir();
    const namespaces = Array.from({ length: 8 }, (_, i) => `team-${i}`);
    const logins = await Promise.all(namespaces.map((ns) => runCliAsync(['login', `${host}/${ns}`, '-u', 'alice', '--password-stdin'], { env: envWith(many), input: PASSWORD })));
    for (const r of logins) assertOk(r);
    assert.deepEqual(Object.keys(readConfig(many).auths!).sort(), namespaces.map((ns) => `${host}/${ns}`));
    const logouts = await Promise.all(namespaces.slice(0, 4).map((ns) => runCliAsync(['logout', `${host}/${ns}`], { env: envWith(many) })));
    for (const r of logouts) assertOk(r);
    assert.deepEqual(Object.keys(readConfig(many).auths!).sort(), namespaces.slice(4).map((ns) => `${host}/${ns}`));
    assert.deepEqual(readdirSync(many), ['config.json'], 'no lock is left behind');
  });

  it('login and logout as root (sudo, the user\'s DOCKER_CONFIG) leave config.json its user\'s, as docker does', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const host = regs.staging.host;
    const dir = freshConfigDir({ auths: {} });
    const file = join(dir, 'config.json');
    chownSync(dir, 4321, 4322);
    chownSync(file, 4321, 4322);
    chmodSync(file, 0o600);
    assertOk(await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env: envWith(dir), input: PASSWORD }));
    const owner = (path: string) => { const st = statSync(path); return [st.uid, st.gid, st.mode & 0o777]; };
    assert.deepEqual(owner(file), [4321, 4322, 0o600], 'the user still reads their logins (mode 0600: only the owner may)');
    assertOk(await runCliAsync(['logout', host], { env: envWith(dir) }));
    assert.deepEqual(owner(file), [4321, 4322, 0o600]);
  });

  it('logout erases from the helper the https://HOST and http://HOST logins older docker stored for the registry, as docker logout does', async () => {
    const bin = join(tmp.path, `bin-keyed-${++n}`);
    const store = join(tmp.path, `keyed-store-${n}`);
    mkdirSync(bin, { recursive: true });
    mkdirSync(store, { recursive: true });
    // One entry per ServerURL, as docker-credential-pass keeps them.
    writeFileSync(join(bin, 'docker-credential-keyed'), [
      '#!/bin/sh',
      'case "$1" in',
      '  store) json=$(cat); url=$(printf "%s" "$json" | sed -n \'s/.*"ServerURL":"\\([^"]*\\)".*/\\1/p\'); printf "%s" "$json" > "$KEYED/$(printf "%s" "$url" | base64 -w0)" ;;',
      '  get|erase) url=$(cat); f="$KEYED/$(printf "%s" "$url" | base64 -w0)"; if [ ! -f "$f" ]; then echo "credentials not found in native keychain"; exit 1; fi; if [ "$1" = get ]; then cat "$f"; else rm "$f"; fi ;;',
      'esac',
      '',
    ].join('\n'));
    chmodSync(join(bin, 'docker-credential-keyed'), 0o755);
    const host = regs.staging.host;
    const env = envWith(freshConfigDir({ credsStore: 'keyed', auths: { [`https://${host}`]: {} } }), { PATH: `${bin}:${process.env.PATH}`, KEYED: store });
    for (const url of [`https://${host}`, `http://${host}`]) {
      execFileSync(join(bin, 'docker-credential-keyed'), ['store'], { env: { ...process.env, KEYED: store }, input: JSON.stringify({ ServerURL: url, Username: 'alice', Secret: PASSWORD }) });
    }
    assertOk(await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env, input: PASSWORD }));
    assert.equal(readdirSync(store).length, 3);
    const out = await runCliAsync(['logout', host], { env });
    assertOk(out);
    assert.equal(out.stdout, `Removed login credentials for ${host}\n`);
    assert.deepEqual(readdirSync(store), [], 'no login for the registry is left in the helper');
    assertOk(await runCliAsync(['logout', host], { env }));
  });

  it('logout through a helper that refuses the older URL forms it never stores still logs out', async () => {
    const bin = join(tmp.path, `bin-picky-${++n}`);
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'docker-credential-picky'), '#!/bin/sh\nurl=$(cat)\ncase "$url" in *://*) echo "invalid server URL: $url"; exit 1 ;; esac\n[ "$1" = get ] && echo "credentials not found"\n[ "$1" = get ] && exit 1\nexit 0\n');
    chmodSync(join(bin, 'docker-credential-picky'), 0o755);
    const host = regs.staging.host;
    const dir = freshConfigDir({ credsStore: 'picky', auths: { [host]: {} } });
    const out = await runCliAsync(['logout', host], { env: envWith(dir, { PATH: `${bin}:${process.env.PATH}` }) });
    assertOk(out);
    assert.equal(out.stdout, `Removed login credentials for ${host}\n`);
    assert.deepEqual(readConfig(dir).auths, {});
  });

  it('"credHelpers": {"HOST": ""} keeps HOST\'s login in the file beside a credsStore, as docker reads and writes it', async () => {
    const host = regs.staging.host;
    // The store of a desktop the file was copied from, not installed here: only other registries would ask it.
    const dir = freshConfigDir({ credsStore: 'desktop-not-here', credHelpers: { [host]: '' } });
    assertOk(await runCliAsync(['login', host, '-u', 'alice', '--password-stdin'], { env: envWith(dir), input: PASSWORD }));
    assert.equal(Buffer.from(readConfig(dir).auths![host]!.auth!, 'base64').toString(), `alice:${PASSWORD}`);
    assertOk(await runCliAsync(['push', `${host}/opt-out/app:1`, '--layout', image.layout], { env: envWith(dir) }));
    assertOk(await runCliAsync(['logout', host], { env: envWith(dir) }));
    assert.deepEqual(readConfig(dir).auths, {});
  });

  it('standard input that is not a terminal is never asked on: --password-stdin reads it, and needs -u', async () => {
    const dir = freshConfigDir();
    assertOneLineError(await runCliAsync(['login', regs.staging.host, '-u', 'alice'], { env: envWith(dir), input: PASSWORD }), /^ocipush: login needs --password-stdin to read the password from standard input, which is not a terminal/, 2);
    assertOneLineError(await runCliAsync(['login', regs.staging.host, '--password-stdin'], { env: envWith(dir), input: PASSWORD }), /^ocipush: login needs --username \(-u\) with --password-stdin$/, 2);
    assert.deepEqual(readdirSync(dir), [], 'nothing stored');
  });

  it('on a terminal, asks the user name and the password (never shown), checks them and stores them, as docker login', async () => {
    requireTool('script');
    const host = regs.staging.host;
    const dir = freshConfigDir();
    // script(1) gives the CLI a pseudo-terminal; each answer is typed once its question has appeared.
    const command = `${process.execPath} ${CLI} login ${host}`;
    const env = { ...process.env, ...envWith(dir) };
    for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
    const child = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    const answers: Array<[RegExp, string]> = [[/Username: $/, 'alice\r'], [/Password: $/, `${PASSWORD}\r`]];
    child.stdout.on('data', (chunk: Buffer) => {
      screen += chunk.toString();
      if (answers[0]?.[0].test(screen)) child.stdin.write(answers.shift()![1]);
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(status, 0, screen);
    assert.match(screen, /Username: alice\r?\n/, 'the user name is shown as it is typed');
    assert.ok(!screen.includes(PASSWORD), 'the password is never shown');
    assert.match(screen, /Login Succeeded/);
    assert.equal(Buffer.from(readConfig(dir).auths![host]!.auth!, 'base64').toString(), `alice:${PASSWORD}`);
  });
});

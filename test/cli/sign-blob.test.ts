import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFile, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { CLI, requireTool, run, runCli, tempDir, type RunResult } from '../support/tools.js';
import { assertOk, assertOneLineError } from './registry-support.js';
import { validate } from './json-schema.js';

/** Blob signatures as cosign sign-blob / verify-blob make and read them, checked with openssl both ways. */
describe('ocipush sign-blob / verify-blob', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  const password = 'blob-pw-for-tests';
  const env = { COSIGN_PASSWORD: password };
  let file: string;

  before(async () => {
    requireTool('openssl');
    tmp = await tempDir();
    file = join(tmp.path, 'release.tar.gz');
    // Larger than one read: the signature is taken over a stream, never the file held whole.
    writeFileSync(file, randomBytes(5 * 1024 * 1024 + 17));
    assertOk(runCli(['generate-key-pair', '--output-prefix', join(tmp.path, 'cosign')], { env }));
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(tmp.path, 'other.pem')]);
    run('openssl', ['pkey', '-in', join(tmp.path, 'other.pem'), '-pubout', '-out', join(tmp.path, 'other.pub')]);
  });
  after(async () => {
    await tmp?.cleanup();
  });

  it('signs a file with a cosign key: the base64 signature on stdout, which openssl verifies over the file\'s bytes', () => {
    const r = runCli(['sign-blob', file, '--key', join(tmp.path, 'cosign.key')], { env });
    assertOk(r);
    assert.match(r.stdout, /^[A-Za-z0-9+/]+={0,2}\n$/);
    const der = join(tmp.path, 'stdout.sig.der');
    writeFileSync(der, Buffer.from(r.stdout.trim(), 'base64'));
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', join(tmp.path, 'cosign.pub'), '-signature', der, file]), /Verified OK/);
    for (const text of [r.stdout, r.stderr]) assert.ok(!text.includes(password) && !text.includes('PRIVATE KEY'), 'no secret in the output');
  });

  it('--output-signature writes the signature file that verify-blob checks, by file or as text; --json says what was signed', () => {
    const sig = join(tmp.path, 'release.sig');
    const r = runCli(['sign-blob', file, '--key', join(tmp.path, 'cosign.key'), '--output-signature', sig, '--json'], { env });
    assertOk(r);
    const report = JSON.parse(r.stdout) as { digest: string; signature: string };
    assert.deepEqual(validate('sign-blob.schema.json', report), [], r.stdout);
    assert.equal(report.digest, `sha256:${run('sha256sum', [file]).split(' ')[0]}`);
    assert.equal(readFileSync(sig, 'utf8').trim(), report.signature);
    for (const signature of [sig, report.signature]) {
      const v = runCli(['verify-blob', file, '--key', join(tmp.path, 'cosign.pub'), '--signature', signature, '--json']);
      assertOk(v);
      assert.deepEqual(validate('verify-blob.schema.json', JSON.parse(v.stdout)), [], v.stdout);
    }
  });

  it('verifies a signature openssl made with a PKCS#8 key, and refuses it for a changed file or another key with one line', () => {
    const der = join(tmp.path, 'openssl.sig.der');
    run('openssl', ['dgst', '-sha256', '-sign', join(tmp.path, 'other.pem'), '-out', der, file]);
    const sig = join(tmp.path, 'openssl.sig');
    writeFileSync(sig, `${readFileSync(der).toString('base64')}\n`);
    assertOk(runCli(['verify-blob', file, '--key', join(tmp.path, 'other.pub'), '--signature', sig]));
    assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'cosign.pub'), '--signature', sig]), /^ocipush: verify-blob .*release\.tar\.gz \(sha256:[0-9a-f]{64}\): the signature is not of this file by .*cosign\.pub$/);
    const changed = join(tmp.path, 'changed.tar.gz');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(changed, bytes);
    assertOneLineError(runCli(['verify-blob', changed, '--key', join(tmp.path, 'other.pub'), '--signature', sig]), /the signature is not of this file/);
  });

  it('takes a signature file as openssl writes it, as cosign verify-blob does: DER bytes (dgst -sign -out), or base64 wrapped at 64 columns (openssl base64), in a file or as the value', () => {
    const der = join(tmp.path, 'raw.sig');
    run('openssl', ['dgst', '-sha256', '-sign', join(tmp.path, 'other.pem'), '-out', der, file]);
    const wrapped = join(tmp.path, 'wrapped.sig');
    writeFileSync(wrapped, run('openssl', ['base64', '-in', der]));
    assert.ok(readFileSync(wrapped, 'utf8').trimEnd().includes('\n'), 'openssl base64 wraps the signature');
    for (const sig of [der, wrapped]) {
      const r = runCli(['verify-blob', file, '--key', join(tmp.path, 'other.pub'), '--signature', sig]);
      assertOk(r);
      assert.match(r.stderr, /^verified .*release\.tar\.gz \(sha256:[0-9a-f]{64}\): signed by .*other\.pub$/m);
      assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'cosign.pub'), '--signature', sig]), /the signature is not of this file by .*cosign\.pub$/);
    }
    // The wrapped text as the value itself (--signature "$(openssl base64 -in sig.der)"), as cosign takes it.
    assertOk(runCli(['verify-blob', file, '--key', join(tmp.path, 'other.pub'), '--signature', readFileSync(wrapped, 'utf8')]));
    assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'cosign.pub'), '--signature', readFileSync(wrapped, 'utf8')]), /the signature is not of this file by .*cosign\.pub$/);
    // The signed file given as the signature by mistake: one line, the file is not read whole.
    assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'other.pub'), '--signature', file]), /^ocipush: --signature .*release\.tar\.gz: the file is \d+ bytes, too large to be a signature/, 2);
  });

  it('- signs and verifies standard input, as cosign sign-blob - and verify-blob - do', () => {
    // Text: runCli hands its input over as a string.
    const bytes = readFileSync(file).subarray(0, 100_000).toString('base64');
    const piped = join(tmp.path, 'piped.txt');
    writeFileSync(piped, bytes);
    const r = runCli(['sign-blob', '-', '--key', join(tmp.path, 'cosign.key')], { env, input: bytes });
    assertOk(r);
    assert.match(r.stderr, /^signed standard input \(sha256:[0-9a-f]{64}\)$/m);
    const der = join(tmp.path, 'stdin.sig.der');
    writeFileSync(der, Buffer.from(r.stdout.trim(), 'base64'));
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', join(tmp.path, 'cosign.pub'), '-signature', der, piped]), /Verified OK/);
    assertOk(runCli(['verify-blob', '-', '--key', join(tmp.path, 'cosign.pub'), '--signature', r.stdout.trim()], { input: bytes }));
    assertOneLineError(runCli(['verify-blob', '-', '--key', join(tmp.path, 'cosign.pub'), '--signature', r.stdout.trim()], { input: `${bytes}x` }),
      /^ocipush: verify-blob standard input \(sha256:[0-9a-f]{64}\): the signature is not of this file/);
  });

  it('a path it cannot write is refused before anything is written: never the signature without the bundle', () => {
    const signature = join(tmp.path, 'half.sig');
    assertOneLineError(runCli(['sign-blob', file, '--key', join(tmp.path, 'cosign.key'), '--output-signature', signature, '--bundle', join(tmp.path, 'nodir', 'x.bundle')], { env }),
      /^ocipush: --bundle .*x\.bundle: directory .*nodir does not exist$/, 2);
    assert.equal(existsSync(signature), false, 'the signature was written though the command failed');
    assertOneLineError(runCli(['sign-blob', file, '--key', join(tmp.path, 'cosign.key'), '--output-signature', tmp.path], { env }), /^ocipush: --output-signature .*: is a directory$/, 2);
  });

  it('--bundle writes the Sigstore bundle cosign 3 sign-blob --bundle writes; verify-blob --bundle reads it, cosign 3\'s P-384 bundles and cosign 2\'s', () => {
    const bundle = join(tmp.path, 'release.bundle');
    const r = runCli(['sign-blob', file, '--key', join(tmp.path, 'cosign.key'), '--bundle', bundle, '--json'], { env });
    assertOk(r);
    assert.deepEqual(validate('sign-blob.schema.json', JSON.parse(r.stdout)), [], r.stdout);
    const doc = JSON.parse(readFileSync(bundle, 'utf8'));
    assert.equal(doc.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    // The key's hint as cosign (sigstore-go) makes it: base64 of the SHA-256 of the SPKI DER.
    run('openssl', ['pkey', '-pubin', '-in', join(tmp.path, 'cosign.pub'), '-outform', 'DER', '-out', join(tmp.path, 'cosign.spki.der')]);
    const spki = readFileSync(join(tmp.path, 'cosign.spki.der'));
    assert.equal(doc.verificationMaterial.publicKey.hint, createHash('sha256').update(spki).digest('base64'));
    assert.deepEqual(doc.messageSignature.messageDigest, { algorithm: 'SHA2_256', digest: createHash('sha256').update(readFileSync(file)).digest('base64') });
    const der = join(tmp.path, 'bundle.sig.der');
    writeFileSync(der, Buffer.from(doc.messageSignature.signature, 'base64'));
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', join(tmp.path, 'cosign.pub'), '-signature', der, file]), /Verified OK/);
    assertOk(runCli(['verify-blob', file, '--key', join(tmp.path, 'cosign.pub'), '--bundle', bundle]));
    assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'other.pub'), '--bundle', bundle]), /the signature is not of this file by .*other\.pub$/);

    // cosign 3 with a P-384 key: SHA-384 over the file, the digest stated as SHA2_384.
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', join(tmp.path, 'p384.pem')]);
    run('openssl', ['pkey', '-in', join(tmp.path, 'p384.pem'), '-pubout', '-out', join(tmp.path, 'p384.pub')]);
    const sig384 = join(tmp.path, 'p384.der');
    run('openssl', ['dgst', '-sha384', '-sign', join(tmp.path, 'p384.pem'), '-out', sig384, file]);
    const digest384 = createHash('sha384').update(readFileSync(file)).digest('base64');
    const cosign3 = (digest: string) => JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', verificationMaterial: { publicKey: { hint: 'x' } }, messageSignature: { messageDigest: { algorithm: 'SHA2_384', digest }, signature: readFileSync(sig384).toString('base64') } });
    writeFileSync(join(tmp.path, 'p384.bundle'), cosign3(digest384));
    assertOk(runCli(['verify-blob', file, '--key', join(tmp.path, 'p384.pub'), '--bundle', join(tmp.path, 'p384.bundle')]));
    // The stated digest is a hint the signature does not cover: one that is not the file's is refused.
    writeFileSync(join(tmp.path, 'p384-lying.bundle'), cosign3(createHash('sha384').update('another file').digest('base64')));
    assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'p384.pub'), '--bundle', join(tmp.path, 'p384-lying.bundle')]), /the bundle's message digest \(SHA2_384\) is not this file's$/);

    // cosign 2's bundle: the base64 signature beside the key (base64 PEM), which is never trusted over --key.
    const legacy = join(tmp.path, 'legacy.bundle');
    writeFileSync(legacy, JSON.stringify({ base64Signature: doc.messageSignature.signature, cert: Buffer.from(readFileSync(join(tmp.path, 'other.pub'))).toString('base64') }));
    assertOk(runCli(['verify-blob', file, '--key', join(tmp.path, 'cosign.pub'), '--bundle', legacy]));
    assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'other.pub'), '--bundle', legacy]), /the signature is not of this file/);

    // A null messageDigest is an absent one (protojson reads null so): the signature alone is checked.
    writeFileSync(join(tmp.path, 'null-digest.bundle'), JSON.stringify({ ...doc, messageSignature: { ...doc.messageSignature, messageDigest: null } }));
    assertOk(runCli(['verify-blob', file, '--key', join(tmp.path, 'cosign.pub'), '--bundle', join(tmp.path, 'null-digest.bundle')]));
    assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'other.pub'), '--bundle', join(tmp.path, 'null-digest.bundle')]), /the signature is not of this file by .*other\.pub$/);

    assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'cosign.pub')]), /^ocipush: verify-blob needs --signature or --bundle$/, 2);
    assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'cosign.pub'), '--bundle', der]), /^ocipush: --bundle .*bundle\.sig\.der: not JSON/);
  });

  it('--new-bundle-format (cosign 2.4+\'s flag) is taken: true writes the Sigstore bundle, =false cosign 2\'s {base64Signature, cert}, which openssl checks; verify-blob takes the flag and reads both', () => {
    const pub = join(tmp.path, 'cosign.pub');
    const sigstore = join(tmp.path, 'flag-new.bundle');
    assertOk(runCli(['sign-blob', file, '--key', join(tmp.path, 'cosign.key'), '--new-bundle-format', '--bundle', sigstore], { env }));
    assert.equal(JSON.parse(readFileSync(sigstore, 'utf8')).mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');

    const legacy = join(tmp.path, 'flag-old.bundle');
    assertOk(runCli(['sign-blob', file, '--key', join(tmp.path, 'cosign.key'), '--new-bundle-format=false', '--bundle', legacy], { env }));
    const doc = JSON.parse(readFileSync(legacy, 'utf8')) as Record<string, string>;
    // cosign's LocalSignedPayload of a key without a log entry: the signature, the key's PEM (base64) as cert, nothing more.
    assert.deepEqual(Object.keys(doc), ['base64Signature', 'cert']);
    assert.equal(Buffer.from(doc.cert!, 'base64').toString('utf8'), readFileSync(pub, 'utf8'));
    const der = join(tmp.path, 'flag-old.der');
    writeFileSync(der, Buffer.from(doc.base64Signature!, 'base64'));
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', der, file]), /Verified OK/);

    for (const bundle of [sigstore, legacy]) {
      for (const flag of ['--new-bundle-format', '--new-bundle-format=false']) assertOk(runCli(['verify-blob', file, '--key', pub, '--bundle', bundle, flag]));
      assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'other.pub'), '--bundle', bundle, '--new-bundle-format']), /the signature is not of this file by .*other\.pub$/);
    }
  });

  it('--signature beside --bundle, as cosign 2 scripts pass the two files sign-blob --bundle --output-signature wrote: the one signature checked; two different ones are one line', () => {
    const pub = join(tmp.path, 'cosign.pub');
    for (const newFormat of ['--new-bundle-format', '--new-bundle-format=false']) {
      const bundle = join(tmp.path, `both${newFormat.length}.bundle`);
      const sig = join(tmp.path, `both${newFormat.length}.sig`);
      assertOk(runCli(['sign-blob', file, '--key', join(tmp.path, 'cosign.key'), newFormat, '--bundle', bundle, '--output-signature', sig], { env }));
      const der = join(tmp.path, `both${newFormat.length}.der`);
      writeFileSync(der, Buffer.from(readFileSync(sig, 'utf8').trim(), 'base64'));
      assert.match(run('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', der, file]), /Verified OK/);
      assertOk(runCli(['verify-blob', file, '--key', pub, '--bundle', bundle, '--signature', sig]));
      assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'other.pub'), '--bundle', bundle, '--signature', sig]), /the signature is not of this file by .*other\.pub$/);
    }
    // openssl's own signature of the file beside a bundle of another: which one is meant is not guessed.
    const other = join(tmp.path, 'both-openssl.der');
    run('openssl', ['dgst', '-sha256', '-sign', join(tmp.path, 'other.pem'), '-out', other, file]);
    assertOneLineError(runCli(['verify-blob', file, '--key', pub, '--bundle', join(tmp.path, 'both19.bundle'), '--signature', other]), /^ocipush: verify-blob: --signature .*both-openssl\.der and --bundle .*both19\.bundle hold different signatures: give the one to check$/, 2);
  });

  it('--output-signature /dev/stdout and --bundle /dev/stdout, into a file or a pipe: stdout holds the signature or bundle alone, which verify-blob checks', () => {
    requireTool('bash');
    const pub = join(tmp.path, 'cosign.pub');
    const viaBash = (line: string): void => {
      const r = spawnSync('bash', ['-c', line, process.execPath, CLI, file, join(tmp.path, 'cosign.key'), tmp.path], { encoding: 'utf8', env: { ...process.env, ...env } });
      assertOk({ status: r.status, stdout: r.stdout, stderr: r.stderr });
    };
    // Redirected to a file (the line naming it would be written over its start) and through a pipe (after it).
    viaBash('"$0" "$1" sign-blob "$2" --key "$3" --output-signature /dev/stdout > "$4/stdout.sig"');
    viaBash('"$0" "$1" sign-blob "$2" --key "$3" --bundle /dev/stdout | cat > "$4/stdout.bundle"');
    assert.match(readFileSync(join(tmp.path, 'stdout.sig'), 'utf8'), /^[A-Za-z0-9+/]+={0,2}\n$/);
    assertOk(runCli(['verify-blob', file, '--key', pub, '--signature', join(tmp.path, 'stdout.sig')]));
    assertOk(runCli(['verify-blob', file, '--key', pub, '--bundle', join(tmp.path, 'stdout.bundle')]));
    // A file of its own is still named on stdout.
    const r = runCli(['sign-blob', file, '--key', join(tmp.path, 'cosign.key'), '--bundle', join(tmp.path, 'own.bundle')], { env });
    assertOk(r);
    assert.equal(r.stdout, `${join(tmp.path, 'own.bundle')}\n`);
  });

  it('a bundle or a key given as --signature is named as what it is, in one line, not taken for a signature of another file', () => {
    const pub = join(tmp.path, 'cosign.pub');
    const bundle = join(tmp.path, 'mixed-up.bundle');
    const legacy = join(tmp.path, 'mixed-up-legacy.bundle');
    assertOk(runCli(['sign-blob', file, '--key', join(tmp.path, 'cosign.key'), '--bundle', bundle], { env }));
    writeFileSync(legacy, JSON.stringify({ base64Signature: JSON.parse(readFileSync(bundle, 'utf8')).messageSignature.signature }));
    for (const given of [bundle, legacy]) {
      assertOneLineError(runCli(['verify-blob', file, '--key', pub, '--signature', given]), /^ocipush: --signature .*\.bundle: holds JSON, not a signature \(a bundle goes in --bundle\)$/, 2);
      assertOk(runCli(['verify-blob', file, '--key', pub, '--bundle', given]));
    }
    assertOneLineError(runCli(['verify-blob', file, '--key', pub, '--signature', pub]), /^ocipush: --signature .*cosign\.pub: holds a PEM PUBLIC KEY, not a signature \(the public key goes in --key\)$/, 2);
    const r = runCli(['verify-blob', file, '--key', pub, '--signature', join(tmp.path, 'cosign.key')]);
    assertOneLineError(r, /^ocipush: --signature .*cosign\.key: holds a PEM ENCRYPTED SIGSTORE PRIVATE KEY, not a signature$/, 2);
    assert.ok(!r.stderr.includes(readFileSync(join(tmp.path, 'cosign.key'), 'utf8').split('\n')[1]!), 'nothing of the key is printed');
  });

  it('--signature and --bundle read a pipe as cosign reads them (bash\'s <(…), /dev/stdin): the signature is checked, not taken for base64 text', () => {
    requireTool('bash');
    const sig = join(tmp.path, 'piped.sig');
    const bundle = join(tmp.path, 'piped.bundle');
    assertOk(runCli(['sign-blob', file, '--key', join(tmp.path, 'cosign.key'), '--output-signature', sig, '--bundle', bundle], { env }));
    // Through bash, as a user types it: the value is /dev/fd/N, a pipe whose size stat gives as 0.
    const viaBash = (flags: string, before = ''): RunResult => {
      const r = spawnSync('bash', ['-c', `${before}"$0" "$1" verify-blob "$2" --key "$3" ${flags}`, process.execPath, CLI, file, join(tmp.path, 'cosign.pub')], { encoding: 'utf8', env: { ...process.env, SIG: sig, BUNDLE: bundle } });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    for (const flags of ['--signature <(cat "$SIG")', '--bundle <(cat "$BUNDLE")']) {
      const r = viaBash(flags);
      assertOk(r);
      assert.match(r.stderr, /^verified .*release\.tar\.gz \(sha256:[0-9a-f]{64}\): signed by .*cosign\.pub$/m, flags);
    }
    assertOk(viaBash('--bundle /dev/stdin', 'cat "$BUNDLE" | '));
    // Another key's signature through a pipe fails as a file's does.
    const other = join(tmp.path, 'other-piped.der');
    run('openssl', ['dgst', '-sha256', '-sign', join(tmp.path, 'other.pem'), '-out', other, file]);
    assertOneLineError(viaBash(`--signature <(cat ${JSON.stringify(other)})`), /the signature is not of this file by .*cosign\.pub$/);
    // A pipe with no end in sight is not read past what a signature or a bundle can be.
    assertOneLineError(viaBash('--signature <(yes)'), /^ocipush: --signature \/dev\/fd\/\d+: more than 65536 bytes, too large to be a signature/, 2);
    assertOneLineError(viaBash('--bundle <(yes)'), /^ocipush: --bundle \/dev\/fd\/\d+: more than 1048576 bytes, too large to be a bundle$/, 2);
  });

  it('--signature https://… (cosign verify-blob fetches it) is one line naming the <(curl …) that does it here, which verifies', async () => {
    requireTool('curl');
    const sig = join(tmp.path, 'served.sig');
    assertOk(runCli(['sign-blob', file, '--key', join(tmp.path, 'cosign.key'), '--output-signature', sig], { env }));
    const server = createServer((_req, res) => res.end(readFileSync(sig)));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/release.sig`;
      // Run without blocking this process, which serves the file.
      const cli = async (script: string) => promisify(execFile)('bash', ['-c', script, process.execPath, CLI, file, join(tmp.path, 'cosign.pub'), url]).then(
        (r) => ({ status: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ status: e.code, stdout: e.stdout, stderr: e.stderr }),
      );
      const refused = await cli('"$0" "$1" verify-blob "$2" --key "$3" --signature "$4"');
      assertOneLineError(refused, /^ocipush: --signature http:\/\/127\.0\.0\.1:\d+\/release\.sig: a URL, which ocipush does not fetch \(cosign verify-blob does\): pass it as --signature <\(curl -fsSL 'http:.*'\), or download it first$/, 2);
      const suggested = /--signature (<\(curl -fsSL '[^']+'\))/.exec(refused.stderr)![1]!;
      assertOk(await cli(`"$0" "$1" verify-blob "$2" --key "$3" --signature ${suggested}`));
    } finally {
      server.close();
    }
  });

  it('a missing file, a missing signature file, and a failed signing leave nothing behind', () => {
    assertOneLineError(runCli(['sign-blob', join(tmp.path, 'nope.bin'), '--key', join(tmp.path, 'cosign.key')], { env }), /cannot read .*nope\.bin: no such file or directory/);
    assertOneLineError(runCli(['verify-blob', file, '--key', join(tmp.path, 'cosign.pub'), '--signature', join(tmp.path, 'nope.sig')]), /--signature ".*nope\.sig": neither a file nor a base64 signature/, 2);
    const sig = join(tmp.path, 'never.sig');
    assertOneLineError(runCli(['sign-blob', join(tmp.path, 'nope.bin'), '--key', join(tmp.path, 'cosign.key'), '--output-signature', sig], { env }), /cannot read/);
    assert.equal(existsSync(sig), false);
  });
});

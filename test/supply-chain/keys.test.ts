import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodePem, parsePrivateKey, parsePublicKey, readKeyArgument, signBytes, SIGSTORE_PRIVATE_KEY_PEM } from '../../src/supply-chain/keys.js';
import { KeySigner } from '../../src/supply-chain/signer.js';
import { CLI, REPO_ROOT, requireTool, run, runCli, tempDir } from '../support/tools.js';

export const COSIGN_FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'cosign');
const fixture = (name: string): string => readFileSync(join(COSIGN_FIXTURES, name), 'utf8');
const password = (text: string) => async (): Promise<Buffer> => Buffer.from(text, 'utf8');

describe('cosign keys', () => {
  let tmp: { path: string; cleanup: () => Promise<void> };
  before(async () => { tmp = await tempDir(); });
  after(async () => { await tmp?.cleanup(); });

  it('loads the keys cosign encrypted (both PEM types) with their password, and refuses a wrong one', async () => {
    // cosign's pkg/cosign/keys_test.go: both load with "hello".
    for (const name of ['encrypted-cosign-rsa.key', 'encrypted-sigstore.key']) {
      const key = await parsePrivateKey(fixture(name), name, password('hello'));
      assert.equal(key.type, 'private');
      await assert.rejects(parsePrivateKey(fixture(name), name, password('wrong')), (err: { code: string; message: string }) => {
        assert.equal(err.code, 'EAUTH');
        assert.match(err.message, new RegExp(`^${name}: cannot decrypt the private key: wrong password`));
        assert.doesNotMatch(err.message, /wrong"|hello/);
        return true;
      });
    }
    // The SEC1 key sealed in the old PEM type decrypts, and is refused as cosign refuses it (not PKCS#8).
    await assert.rejects(parsePrivateKey(fixture('encrypted-cosign-ec-sec1.key'), 'k', password('hello')), /decrypted key is not a PKCS#8 private key/);
  });

  it('a cosign key whose scrypt parameters would take more than 1 GiB is refused in one line before any work, not derived (or a malloc failure)', async () => {
    const block = decodePem(fixture('encrypted-sigstore.key'), 'k');
    const doc = JSON.parse(block.der.toString('utf8'));
    // Each within its own bound (N ≤ 2^20, r ≤ 64), together 128 × N × r = 1152 MiB.
    doc.kdf.params = { N: 1 << 20, r: 9, p: 1 };
    const pem = `-----BEGIN ${SIGSTORE_PRIVATE_KEY_PEM}-----\n${Buffer.from(JSON.stringify(doc)).toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${SIGSTORE_PRIVATE_KEY_PEM}-----\n`;
    await assert.rejects(parsePrivateKey(pem, 'big.key', password('hello')), (err: { code: string; message: string }) => {
      assert.equal(err.code, 'EINVALID');
      assert.equal(err.message, 'big.key: scrypt parameters N=1048576 r=9 p=1 need 1152 MiB, more than the 1024 MiB allowed (cosign writes N=32768 r=8 p=1)');
      return true;
    });
    // cosign's own keys (N up to 65536, r = 8) are far below it.
    assert.equal((await parsePrivateKey(fixture('encrypted-cosign-rsa.key'), 'k', password('hello'))).type, 'private');
  });

  it('generate-key-pair writes cosign\'s format; openssl reads the public key and checks a signature made with the private one', async () => {
    const prefix = join(tmp.path, 'gen');
    const r = runCli(['generate-key-pair', '--output-prefix', prefix], { env: { COSIGN_PASSWORD: 's3cret-pw' } });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /s3cret-pw|PRIVATE KEY-----/);
    const keyText = readFileSync(`${prefix}.key`, 'utf8');
    assert.equal(statSync(`${prefix}.key`).mode & 0o777, 0o600);
    const block = decodePem(keyText, 'gen.key');
    assert.equal(block.type, SIGSTORE_PRIVATE_KEY_PEM);
    const doc = JSON.parse(block.der.toString('utf8'));
    assert.deepEqual(Object.keys(doc), ['kdf', 'cipher', 'ciphertext']);
    assert.deepEqual(doc.kdf.params, { N: 32768, r: 8, p: 1 });
    assert.equal(doc.kdf.name, 'scrypt');
    assert.equal(Buffer.from(doc.kdf.salt, 'base64').length, 32);
    assert.equal(doc.cipher.name, 'nacl/secretbox');
    assert.equal(Buffer.from(doc.cipher.nonce, 'base64').length, 24);
    // The key file is never overwritten.
    const again = runCli(['generate-key-pair', '--output-prefix', prefix], { env: { COSIGN_PASSWORD: '' } });
    assert.equal(again.status, 2);
    assert.match(again.stderr, /gen\.key already exists/);

    requireTool('openssl');
    const text = run('openssl', ['pkey', '-pubin', '-in', `${prefix}.pub`, '-noout', '-text']);
    assert.match(text, /NIST CURVE: P-256|ASN1 OID: prime256v1/);
    const key = await parsePrivateKey(keyText, 'gen.key', password('s3cret-pw'));
    await assert.rejects(parsePrivateKey(keyText, 'gen.key', password('')), /wrong password/);
    const payload = join(tmp.path, 'payload');
    writeFileSync(payload, 'exact payload bytes');
    writeFileSync(join(tmp.path, 'sig.der'), signBytes(key, readFileSync(payload)));
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', `${prefix}.pub`, '-signature', join(tmp.path, 'sig.der'), payload]), /Verified OK/);
    assert.equal(new KeySigner(key).publicKeyPem(), readFileSync(`${prefix}.pub`, 'utf8'));
  });

  it('generate-key-pair takes cosign\'s --output-key-prefix', () => {
    const prefix = join(tmp.path, 'cosign-flag');
    const r = runCli(['generate-key-pair', '--output-key-prefix', prefix], { env: { COSIGN_PASSWORD: 'flag-pw' } });
    assert.equal(r.status, 0, r.stderr);
    requireTool('openssl');
    assert.match(run('openssl', ['pkey', '-pubin', '-in', `${prefix}.pub`, '-noout', '-text']), /NIST CURVE: P-256|ASN1 OID: prime256v1/);
    assert.equal(decodePem(readFileSync(`${prefix}.key`, 'utf8'), 'cosign-flag.key').type, SIGSTORE_PRIVATE_KEY_PEM);
    // An unset "$PREFIX", or a directory: one line, no hidden .key and .pub written.
    const dir = join(tmp.path, 'prefix-dir');
    mkdirSync(dir);
    for (const given of ['', 'keys/']) {
      const refused = runCli(['generate-key-pair', '--output-key-prefix', given], { env: { COSIGN_PASSWORD: 'flag-pw' }, cwd: dir });
      assert.equal(refused.status, 2, refused.stderr);
      assert.match(refused.stderr, /^ocipush: --output-prefix "(keys\/)?": name the files' prefix, e\.g\. (keys\/)?cosign \(writes \S*cosign\.key and \S*cosign\.pub\)\n$/);
    }
    assert.deepEqual(readdirSync(dir), []);
  });

  it('libsodium (PyNaCl) and Python\'s scrypt open the key ocipush wrote; openssl derives the .pub from what they decrypt', () => {
    requireTool('openssl');
    const prefix = join(tmp.path, 'nacl');
    assert.equal(runCli(['generate-key-pair', '--output-prefix', prefix], { env: { COSIGN_PASSWORD: 'nacl-pw' } }).status, 0);
    const der = join(tmp.path, 'nacl.der');
    run('/usr/bin/python3', [join(REPO_ROOT, 'test', 'supply-chain', 'decrypt-key.py'), `${prefix}.key`, 'nacl-pw', der]);
    const pub = run('openssl', ['pkey', '-inform', 'DER', '-in', der, '-pubout']);
    assert.equal(pub, readFileSync(`${prefix}.pub`, 'utf8'));
    // And the fixture cosign wrote, the same way.
    run('/usr/bin/python3', [join(REPO_ROOT, 'test', 'supply-chain', 'decrypt-key.py'), join(COSIGN_FIXTURES, 'encrypted-sigstore.key'), 'hello', der]);
    assert.match(run('openssl', ['pkey', '-inform', 'DER', '-in', der, '-noout', '-text']), /Private-Key/);
  });

  it('an empty COSIGN_PASSWORD is a password; without it and without a terminal the command says what to do', () => {
    const prefix = join(tmp.path, 'empty');
    assert.equal(runCli(['generate-key-pair', '--output-prefix', prefix], { env: { COSIGN_PASSWORD: '' } }).status, 0);
    const r = runCli(['generate-key-pair', '--output-prefix', join(tmp.path, 'none')], { env: { COSIGN_PASSWORD: undefined } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /needs a password: set COSIGN_PASSWORD/);
  });

  it('on a terminal, asks for the password twice without echoing it', async () => {
    requireTool('script');
    const prefix = join(tmp.path, 'tty');
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.COSIGN_PASSWORD;
    // script(1) gives the CLI a pseudo-terminal; each answer is typed once its prompt has appeared.
    const child = spawn('script', ['-qec', `${process.execPath} ${CLI} generate-key-pair --output-prefix ${prefix}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let answered = 0;
    child.stdout.on('data', (c: Buffer) => {
      screen += c.toString();
      const prompts = (screen.match(/Enter password/g) ?? []).length;
      if (prompts > answered) { answered++; child.stdin.write('tty-secret\r'); }
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(status, 0, screen);
    assert.match(screen, /Enter password for .*tty\.key: /);
    assert.match(screen, /Enter password again: /);
    assert.doesNotMatch(screen, /tty-secret/);
    await parsePrivateKey(readFileSync(`${prefix}.key`, 'utf8'), 'tty.key', password('tty-secret'));
  });

  it('on a terminal whose standard input is the data (cat FILE | sign-blob -), asks for the password on the terminal, as cosign\'s users type it', async () => {
    requireTool('script');
    requireTool('openssl');
    const prefix = join(tmp.path, 'piped');
    assert.equal(runCli(['generate-key-pair', '--output-prefix', prefix], { env: { COSIGN_PASSWORD: 'piped-secret' } }).status, 0);
    const data = join(tmp.path, 'piped.txt');
    writeFileSync(data, 'release notes\n'.repeat(1000));
    const sig = join(tmp.path, 'piped.sig');
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.COSIGN_PASSWORD;
    // script(1) makes a pseudo-terminal the command's terminal; standard input is cat's pipe.
    const child = spawn('script', ['-qec', `cat ${data} | ${process.execPath} ${CLI} sign-blob - --key ${prefix}.key > ${sig}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.on('data', (c: Buffer) => {
      const before = screen;
      screen += c.toString();
      if (!/Enter password/.test(before) && /Enter password/.test(screen)) child.stdin.write('piped-secret\r');
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(status, 0, screen);
    assert.match(screen, /Enter password for .*piped\.key: /);
    assert.doesNotMatch(screen, /piped-secret/);
    assert.match(screen, /signed standard input \(sha256:[0-9a-f]{64}\)/);
    // The signature is of the piped bytes, by the key.
    const der = join(tmp.path, 'piped.der');
    writeFileSync(der, Buffer.from(readFileSync(sig, 'utf8').trim(), 'base64'));
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', `${prefix}.pub`, '-signature', der, data]), /Verified OK/);
  });

  it('takes plain PKCS#8 and SEC1 keys as openssl writes them, and a key held in an environment variable', async () => {
    requireTool('openssl');
    const pkcs8 = join(tmp.path, 'plain.pem');
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pkcs8]);
    const pub = join(tmp.path, 'plain.pub');
    run('openssl', ['pkey', '-in', pkcs8, '-pubout', '-out', pub]);
    const asked: string[] = [];
    const key = await parsePrivateKey(readFileSync(pkcs8, 'utf8'), 'plain.pem', async () => { asked.push('x'); return Buffer.alloc(0); });
    assert.deepEqual(asked, [], 'no password asked for a plain key');
    assert.equal(new KeySigner(key).publicKeyPem(), publicPem(pub));
    const sec1 = join(tmp.path, 'sec1.pem');
    run('openssl', ['ec', '-in', pkcs8, '-out', sec1]);
    assert.match(readFileSync(sec1, 'utf8'), /BEGIN EC PRIVATE KEY/);
    assert.equal(new KeySigner(await parsePrivateKey(readFileSync(sec1, 'utf8'), 'sec1', password(''))).publicKeyPem(), publicPem(pub));

    process.env.H7_TEST_KEY = readFileSync(pkcs8, 'utf8');
    try {
      const fromEnv = await readKeyArgument('env://H7_TEST_KEY', '--key');
      assert.equal(fromEnv.what, 'key from environment variable H7_TEST_KEY');
      assert.equal(new KeySigner(await parsePrivateKey(fromEnv.text, fromEnv.what, password(''))).publicKeyPem(), publicPem(pub));
    } finally {
      delete process.env.H7_TEST_KEY;
    }
    await assert.rejects(readKeyArgument('env://H7_NOT_SET', '--key'), /environment variable H7_NOT_SET is not set/);
    assert.throws(() => parsePublicKey(readFileSync(pkcs8, 'utf8'), 'plain.pem'), /not a public key/);
  });

  it('takes openssl\'s encrypted PKCS#8 with COSIGN_PASSWORD (a wrong one in one line), and an EC key after the EC PARAMETERS openssl ecparam -genkey writes', () => {
    requireTool('openssl');
    const file = join(tmp.path, 'release.txt');
    writeFileSync(file, 'release bytes');
    const kinds: Record<string, string[]> = {
      ec: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
      rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
      ed25519: ['-algorithm', 'ED25519'],
    };
    for (const [name, args] of Object.entries(kinds)) {
      const plain = join(tmp.path, `enc-${name}.plain.pem`);
      const sealed = join(tmp.path, `enc-${name}.pem`);
      const pub = join(tmp.path, `enc-${name}.pub`);
      run('openssl', ['genpkey', ...args, '-out', plain]);
      run('openssl', ['pkey', '-in', plain, '-pubout', '-out', pub]);
      run('openssl', ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', plain, '-passout', 'pass:pkcs8-pw', '-out', sealed]);
      assert.match(readFileSync(sealed, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      const r = runCli(['sign-blob', file, '--key', sealed], { env: { COSIGN_PASSWORD: 'pkcs8-pw' } });
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      const sig = join(tmp.path, `enc-${name}.sig`);
      writeFileSync(sig, Buffer.from(r.stdout.trim(), 'base64'));
      const check = name === 'ed25519' ? ['pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', pub, '-sigfile', sig, '-in', file] : ['dgst', '-sha256', '-verify', pub, '-signature', sig, file];
      assert.match(run('openssl', check), /Verified OK|Signature Verified Successfully/);
      const wrong = runCli(['sign-blob', file, '--key', sealed], { env: { COSIGN_PASSWORD: 'not-it' } });
      assert.equal(wrong.status, 1, wrong.stderr);
      assert.equal(wrong.stdout, '');
      assert.match(wrong.stderr, /^ocipush: .*enc-\w+\.pem: cannot decrypt the private key: wrong password \(or the file is damaged\)\n$/);
      assert.doesNotMatch(wrong.stderr, /not-it|pkcs8-pw/);
    }
    const withParams = join(tmp.path, 'ecparam.pem');
    run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-out', withParams]);
    assert.match(readFileSync(withParams, 'utf8'), /^-----BEGIN EC PARAMETERS-----[\s\S]*-----BEGIN EC PRIVATE KEY-----/);
    const r = runCli(['sign-blob', file, '--key', withParams]);
    assert.equal(r.status, 0, r.stderr);
    const sig = join(tmp.path, 'ecparam.sig');
    writeFileSync(sig, Buffer.from(r.stdout.trim(), 'base64'));
    run('openssl', ['ec', '-in', withParams, '-pubout', '-out', join(tmp.path, 'ecparam.pub')]);
    assert.match(run('openssl', ['dgst', '-sha256', '-verify', join(tmp.path, 'ecparam.pub'), '-signature', sig, file]), /Verified OK/);
  });

  it('a key sealed with openssl\'s legacy PEM encryption is named as such, in one line, not as a block that does not parse', () => {
    requireTool('openssl');
    const sealed = join(tmp.path, 'legacy.pem');
    run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(tmp.path, 'legacy-plain.pem')]);
    run('openssl', ['ec', '-in', join(tmp.path, 'legacy-plain.pem'), '-aes256', '-passout', 'pass:legacy-pw', '-out', sealed]);
    assert.match(readFileSync(sealed, 'utf8'), /Proc-Type: 4,ENCRYPTED/);
    const file = join(tmp.path, 'blob.txt');
    writeFileSync(file, 'blob');
    const r = runCli(['sign-blob', file, '--key', sealed], { env: { COSIGN_PASSWORD: 'legacy-pw' } });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^ocipush: .*legacy\.pem: the EC PRIVATE KEY is encrypted with openssl's legacy PEM encryption, which is not supported \(cosign's encrypted keys and PKCS#8, plain or encrypted, are: openssl pkcs8 -topk8 -v2 aes-256-cbc converts it\)\n$/);
  });
  it('a large file given as --key (the file to sign, arguments swapped) is refused in one line without being read whole; a key through a pipe is read', () => {
    const blob = join(tmp.path, 'release.tar');
    // Sparse: 600 MB the disk does not hold, more than a string may (read whole, it was 'Invalid string length').
    writeFileSync(blob, '');
    truncateSync(blob, 600 * 1024 * 1024);
    const prefix = join(tmp.path, 'swap');
    assert.equal(runCli(['generate-key-pair', '--output-prefix', prefix], { env: { COSIGN_PASSWORD: 'pw' } }).status, 0);
    for (const args of [['sign-blob', `${prefix}.key`, '--key', blob], ['verify-blob', `${prefix}.pub`, '--key', blob, '--signature', `${prefix}.pub`]]) {
      const r = runCli(args, { env: { COSIGN_PASSWORD: 'pw' } });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, `ocipush: --key ${blob}: more than 1 MiB, too large to be a key (the file to sign given as the key?)\n`);
    }
    requireTool('bash');
    const piped = spawnSync('bash', ['-c', '"$0" "$1" sign-blob "$2" --key <(cat "$3")', process.execPath, CLI, `${prefix}.pub`, `${prefix}.key`], { encoding: 'utf8', env: { ...process.env, COSIGN_PASSWORD: 'pw' } });
    assert.equal(piped.status, 0, piped.stderr);
  });

  it('cosign\'s key references that are no file (KMS, Kubernetes, a URL, a PKCS#11 token) are named as unsupported in one line, a PIN never printed', () => {
    const refs = ['gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k', 'awskms:///alias/release', 'azurekms://vault.vault.azure.net/k', 'hashivault://release', 'k8s://ci/cosign', 'gitlab://group/project', 'https://example.com/cosign.pub', 'pkcs11:token=ci;object=release?pin-value=4321'];
    for (const ref of refs) {
      for (const args of [['sign', '127.0.0.1:1/app:1', '--key', ref], ['verify', '127.0.0.1:1/app:1', '--key', ref]]) {
        const r = runCli(args, { env: { COSIGN_PASSWORD: 'x' } });
        // Before: '--key: cannot read pkcs11:token=ci;object=release?pin-value=4321: no such file or directory'.
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, /^ocipush: --key [a-z0-9]+:(\/\/)?…: cosign's .* not supported: give a key file \(PEM, or cosign's encrypted key\) or env:\/\/NAME\n$/, ref);
        assert.doesNotMatch(r.stderr, /4321|release|cosign\.pub/, ref);
      }
    }
  });
});

function publicPem(path: string): string {
  return readFileSync(path, 'utf8');
}

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { requireTool, run, runCli, tempDir } from '../support/tools.js';
import { umociImage, type UmociImage } from '../registry/support.js';
import { assertOk, assertOneLineError } from './registry-support.js';
import { cosignPayload, opensslVerifiedSignatures, storeCosignSignature } from './signature-support.js';

/**
 * The keys a cosign user brings (`cosign import-key-pair` takes ECDSA P-256/P-384/P-521, RSA,
 * Ed25519), signatures made by openssl over the exact bytes as cosign makes them, stored the
 * cosign way, checked by ocipush; and what ocipush signs, checked by openssl.
 */
describe('sign / verify with every kind of key cosign takes', () => {
  let registry: RunningRegistry;
  let tmp: { path: string; cleanup: () => Promise<void> };
  let image: UmociImage;
  const keys = (name: string) => ({ key: join(tmp.path, `${name}.pem`), pub: join(tmp.path, `${name}.pub`) });

  before(async () => {
    requireTool('openssl');
    requireTool('skopeo');
    tmp = await tempDir();
    registry = await startRegistry();
    image = umociImage(tmp.path, 'one', [5_000]);
    const kinds: Record<string, string[]> = {
      p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      p384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
      p521: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'],
      rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
      ed25519: ['-algorithm', 'ED25519'],
      k1: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
    };
    for (const [name, args] of Object.entries(kinds)) {
      run('openssl', ['genpkey', ...args, '-out', keys(name).key]);
      run('openssl', ['pkey', '-in', keys(name).key, '-pubout', '-out', keys(name).pub]);
    }
  });
  after(async () => {
    await registry?.stop();
    await tmp?.cleanup();
  });

  /** openssl's DER signature over `file` with `key`: over its SHA-`bits` digest, or the bytes themselves for Ed25519. */
  function opensslSign(key: string, file: string, hash: string | null): Buffer {
    const out = join(tmp.path, `openssl-${Math.random().toString(36).slice(2)}.sig`);
    if (hash === null) run('openssl', ['pkeyutl', '-sign', '-rawin', '-inkey', key, '-in', file, '-out', out]);
    else run('openssl', ['dgst', `-${hash}`, '-sign', key, '-out', out, file]);
    return readFileSync(out);
  }

  it('verify takes what cosign sign --key stores for each key: SHA-256, and since cosign 2.6 SHA-384 for P-384 and SHA-512 for P-521', () => {
    // cosign ≥ 2.6 signs with sigstore's default for the key (LoadDefaultSignerVerifier); cosign verify and every older cosign use SHA-256.
    const cases: [string, string | null][] = [['p256', 'sha256'], ['p384', 'sha384'], ['p384', 'sha256'], ['p521', 'sha512'], ['p521', 'sha256'], ['rsa', 'sha256'], ['ed25519', null]];
    for (const [i, [name, hash]] of cases.entries()) {
      const repo = `kinds/${name}-${i}`;
      assertOk(runCli(['push', `${registry.host}/${repo}:1`, '--layout', image.layout, '--tag', 'one', '--quiet']));
      const payload = join(tmp.path, `payload-${i}`);
      writeFileSync(payload, cosignPayload(`${registry.host}/${repo}`, image.manifest.digest));
      storeCosignSignature(registry.host, repo, image.manifest.digest, readFileSync(payload), opensslSign(keys(name).key, payload, hash), tmp.path);
      const r = runCli(['verify', `${registry.host}/${repo}:1`, '--key', keys(name).pub]);
      assert.equal(r.status, 0, `${name} ${hash}: ${r.stderr}`);
      assert.equal(r.stdout, `${image.manifest.digest}\n`);
      // Another key of the same kind still fails.
      const other = name === 'p384' ? 'p521' : 'p384';
      assertOneLineError(runCli(['verify', `${registry.host}/${repo}:1`, '--key', keys(other).pub]), /none of 1 signature verifies: not signed by this key$/);
    }
  });

  it('verify-blob takes a P-384 / P-521 signature over the file\'s SHA-384 / SHA-512, as cosign 2.6+ sign-blob --key makes it', () => {
    const file = join(tmp.path, 'release.tar');
    writeFileSync(file, Buffer.alloc(3 * 1024 * 1024 + 5, 7));
    for (const [name, hash] of [['p384', 'sha384'], ['p521', 'sha512'], ['p384', 'sha256']] as const) {
      const sig = join(tmp.path, `${name}-${hash}.sig`);
      writeFileSync(sig, opensslSign(keys(name).key, file, hash).toString('base64'));
      assertOk(runCli(['verify-blob', file, '--key', keys(name).pub, '--signature', sig]));
    }
    // A P-256 signature is over SHA-256 only, as cosign makes and checks it.
    const sig = join(tmp.path, 'p256-sha384.sig');
    writeFileSync(sig, opensslSign(keys('p256').key, file, 'sha384').toString('base64'));
    assertOneLineError(runCli(['verify-blob', file, '--key', keys('p256').pub, '--signature', sig]), /the signature is not of this file by .*p256\.pub$/);
  });

  it('verify-blob takes an Ed25519ph signature, as cosign 2.6+ makes with an Ed25519 key (RFC 8032 §7.3\'s test vector), and a pure Ed25519 one', () => {
    // RFC 8032 §7.3 (Ed25519ph): public key, message "abc", signature.
    const spki = join(tmp.path, 'rfc8032.der');
    writeFileSync(spki, Buffer.from('302a300506032b6570032100ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf', 'hex'));
    const pub = join(tmp.path, 'rfc8032.pub');
    run('openssl', ['pkey', '-pubin', '-inform', 'DER', '-in', spki, '-out', pub]);
    const file = join(tmp.path, 'abc.txt');
    writeFileSync(file, 'abc');
    const signature = Buffer.from('98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406', 'hex');
    assertOk(runCli(['verify-blob', file, '--key', pub, '--signature', signature.toString('base64')]));
    // openssl 3.0 has no Ed25519ph: it checks the signature is not a pure Ed25519 one, so the ph path is what verified it.
    const sigFile = join(tmp.path, 'rfc8032.sig');
    writeFileSync(sigFile, signature);
    assert.throws(() => run('openssl', ['pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', pub, '-sigfile', sigFile, '-in', file]), /failed/);
    const changed = Buffer.from(signature);
    changed[40]! ^= 1;
    assertOneLineError(runCli(['verify-blob', file, '--key', pub, '--signature', changed.toString('base64')]), /the signature is not of this file/);
    writeFileSync(join(tmp.path, 'abd.txt'), 'abd');
    assertOneLineError(runCli(['verify-blob', join(tmp.path, 'abd.txt'), '--key', pub, '--signature', signature.toString('base64')]), /the signature is not of this file/);
    // A pure Ed25519 signature (cosign before 2.6, openssl) still verifies.
    run('openssl', ['pkeyutl', '-sign', '-rawin', '-inkey', keys('ed25519').key, '-in', file, '-out', sigFile]);
    assertOk(runCli(['verify-blob', file, '--key', keys('ed25519').pub, '--signature', sigFile]));
  });

  it('sign with each kind stores a signature openssl checks as cosign verify does (SHA-256); a curve cosign cannot check is refused', () => {
    for (const name of ['p256', 'p384', 'p521', 'rsa']) {
      const repo = `signed/${name}`;
      assertOk(runCli(['push', `${registry.host}/${repo}:1`, '--layout', image.layout, '--tag', 'one', '--quiet']));
      assertOk(runCli(['sign', `${registry.host}/${repo}:1`, '--key', keys(name).key]));
      assert.equal(opensslVerifiedSignatures(registry.host, repo, image.manifest.digest, keys(name).pub, tmp.path), 1);
      assertOk(runCli(['verify', `${registry.host}/${repo}:1`, '--key', keys(name).pub]));
    }
    const repo = 'signed/k1';
    assertOk(runCli(['push', `${registry.host}/${repo}:1`, '--layout', image.layout, '--tag', 'one', '--quiet']));
    assertOneLineError(runCli(['sign', `${registry.host}/${repo}:1`, '--key', keys('k1').key]), /^ocipush: .*k1\.pem: ECDSA keys on secp256k1 are not supported \(cosign takes P-256, P-384 and P-521\)$/);
    assertOneLineError(runCli(['verify', `${registry.host}/${repo}:1`, '--key', keys('k1').pub]), /k1\.pub: ECDSA keys on secp256k1 are not supported/);
    assert.throws(() => run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/${repo}:${image.manifest.digest.replace(':', '-')}.sig`]), /manifest unknown|not found/i);
  });
});

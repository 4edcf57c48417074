import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry } from '../support/registry.js';
import { opensslSignature, run, runCli, tempDir } from '../support/tools.js';
import { umociImage } from '../registry/support.js';
import { storeCosignSignature } from './signature-support.js';

/**
 * Scripts written for cosign carry its flags. Where ocipush has no counterpart, the line says
 * why and what to do (exit 2, nothing asked of a registry: 127.0.0.1:1 listens to nobody),
 * instead of only 'unknown option'.
 */
test('cosign\'s flags without a counterpart (or asking for the opposite of what ocipush does) say why in one line; other verbs\' unknown options are as before', () => {
  const cases: [string[], RegExp][] = [
    [['sign', '127.0.0.1:1/app:1', '--key', 'k.key', '--yes=false'], /^ocipush: --yes is cosign's option: ocipush asks for no confirmation: drop it\n$/],
    [['sign', '127.0.0.1:1/app:1', '--key', 'k.key', '--tlog-upload'], /^ocipush: --tlog-upload is cosign's option: ocipush makes and checks no transparency-log \(Rekor\) entry/],
    [['verify', '127.0.0.1:1/app:1', '--key', 'k.pub', '--insecure-ignore-tlog=false'], /^ocipush: --insecure-ignore-tlog is cosign's option: .*only the key's signature: drop it\n$/],
    [['verify', '127.0.0.1:1/app:1', '--key', 'k.pub', '--check-claims=false'], /^ocipush: --check-claims is cosign's option: ocipush always checks that the signed payload names the image's digest .*: drop it\n$/],
    [['verify-attestation', '127.0.0.1:1/app:1', '--key', 'k.pub', '--signature-digest-algorithm', 'sha512'], /^ocipush: --signature-digest-algorithm is cosign's option: ocipush checks signatures over SHA-256 \(cosign's default, --signature-digest-algorithm sha256\), and a P-384 or P-521 key's over SHA-384 or SHA-512 as well: drop it\n$/],
    [['sign', '127.0.0.1:1/app:1', '--key', 'k.key', '--check-claims'], /^ocipush: unknown option --check-claims for sign \(ocipush sign --help lists them\)\n$/],
    [['verify', '127.0.0.1:1/app:1', '--certificate-identity', 'dev@example.com', '--certificate-oidc-issuer', 'https://accounts.example.com'], /^ocipush: --certificate-identity is cosign's option: keyless signing and verification .* are not supported: sign and verify with --key\n$/],
    [['verify', '127.0.0.1:1/app:1', '--key', 'k.pub', '--local-image'], /^ocipush: --local-image is cosign's option: cosign's --local-image DIR \(a directory cosign save wrote\) is the reference oci:DIR here: ocipush verify oci:DIR --key …\n$/],
    [['sign', '127.0.0.1:1/app:1', '--key', 'k.key', '--registry-referrers-mode=oci-1-1'], /^ocipush: --registry-referrers-mode is cosign's option: ocipush sign stores cosign's sha256-<hex>\.sig tag, or with --new-bundle-format a Sigstore bundle as an OCI 1\.1 referrer/],
    [['sign-blob', 'f', '--key', 'k.key', '--b64=false'], /^ocipush: --b64 is cosign's option: ocipush writes the signature in base64, cosign's default .*: drop --b64=false\n$/],
    [['verify-blob', 'f', '--key', 'k.pub', '--certificate', 'c.pem'], /^ocipush: --certificate is cosign's option: a certificate's public key is given as --key/],
    // Before, each of the above said only this; a verb cosign has no such flag on still does.
    [['copy', '127.0.0.1:1/a:1', '127.0.0.1:1/b:1', '-y'], /^ocipush: unknown option -y for copy \(ocipush copy --help lists them\)\n$/],
  ];
  for (const [args, expected] of cases) {
    const r = runCli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, expected, args.join(' '));
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  }
});

test('cosign\'s flags that ask for what ocipush does anyway (--tlog-upload=false, --insecure-ignore-tlog, -y, sign-blob\'s --b64) are taken, as a cosign script passes them; openssl checks the signature', async () => {
  const dir = await tempDir();
  try {
    const key = join(dir.path, 'k.pem');
    const pub = join(dir.path, 'k.pub');
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    run('openssl', ['pkey', '-in', key, '-pubout', '-out', pub]);
    const file = join(dir.path, 'app.tar.gz');
    writeFileSync(file, 'release\n');
    const sig = join(dir.path, 'app.sig');
    for (const flags of [['--tlog-upload=false', '-y'], ['--tlog-upload', 'false', '--yes'], ['--b64'], ['--b64=true']]) {
      const signed = runCli(['sign-blob', file, '--key', key, ...flags, '--output-signature', sig]);
      assert.equal(signed.status, 0, signed.stderr);
      run('sh', ['-c', `base64 -d < '${sig}' > '${sig}.der' && openssl dgst -sha256 -verify '${pub}' -signature '${sig}.der' '${file}'`]);
    }
    for (const flag of [['--insecure-ignore-tlog'], ['--insecure-ignore-tlog=true'], ['--insecure-ignore-tlog', 'true']]) {
      const verified = runCli(['verify-blob', file, '--key', pub, '--signature', sig, ...flag]);
      assert.equal(verified.status, 0, `${flag.join(' ')}: ${verified.stderr}`);
    }
  } finally {
    await dir.cleanup();
  }
});

test('the verifies take cosign\'s --experimental-oci11[=false], --check-claims, --private-infrastructure and --signature-digest-algorithm sha256 (what they do anyway), as cosign verify scripts pass them', async () => {
  const dir = await tempDir();
  const registry = await startRegistry();
  try {
    const key = join(dir.path, 'k.pem');
    const pub = join(dir.path, 'k.pub');
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    run('openssl', ['pkey', '-in', key, '-pubout', '-out', pub]);
    const image = umociImage(dir.path, 'one', [1000]);
    const ref = `${registry.host}/flags/app:1`;
    assert.equal(runCli(['push', ref, '--layout', image.layout, '--tag', 'one', '--quiet']).status, 0);
    // A signature as cosign sign --key stores it, made by openssl.
    const payload = Buffer.from(JSON.stringify({
      critical: { identity: { 'docker-reference': `${registry.host}/flags/app` }, image: { 'docker-manifest-digest': image.manifest.digest }, type: 'cosign container image signature' },
      optional: null,
    }));
    storeCosignSignature(registry.host, 'flags/app', image.manifest.digest, payload, opensslSignature(key, payload, dir.path), dir.path);
    writeFileSync(join(dir.path, 'predicate.json'), '{"ok":true}');
    assert.equal(runCli(['attest', ref, '--key', key, '--type', 'https://example.com/p', '--predicate', join(dir.path, 'predicate.json'), '--quiet']).status, 0);
    for (const flags of [['--experimental-oci11'], ['--experimental-oci11=false'], ['--experimental-oci11', 'true', '--check-claims'], ['--check-claims=true', '--private-infrastructure'], ['--signature-digest-algorithm', 'sha256'], ['--signature-digest-algorithm=sha256']]) {
      for (const verb of [['verify'], ['verify-attestation', '--type', 'https://example.com/p']]) {
        const r = runCli([verb[0]!, ref, '--key', pub, ...verb.slice(1), ...flags]);
        assert.equal(r.status, 0, `${verb[0]} ${flags.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /^verified /);
      }
    }
  } finally {
    await registry.stop();
    await dir.cleanup();
  }
});

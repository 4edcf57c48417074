import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/tools.js';

/**
 * Scripts written for cosign carry its flags. Where ocipush has no counterpart, the line says
 * why and what to do (exit 2, nothing asked of a registry: 127.0.0.1:1 listens to nobody),
 * instead of only 'unknown option'.
 */
test('cosign\'s flags without a counterpart say why in one line; other verbs\' unknown options are as before', () => {
  const cases: [string[], RegExp][] = [
    [['sign', '127.0.0.1:1/app:1', '--key', 'k.key', '-y'], /^ocipush: -y is cosign's option: ocipush asks for no confirmation: drop it\n$/],
    [['sign', '127.0.0.1:1/app:1', '--key', 'k.key', '--tlog-upload=false'], /^ocipush: --tlog-upload is cosign's option: ocipush makes and checks no transparency-log \(Rekor\) entry/],
    [['verify', '127.0.0.1:1/app:1', '--key', 'k.pub', '--insecure-ignore-tlog'], /^ocipush: --insecure-ignore-tlog is cosign's option: .*only the key's signature: drop it\n$/],
    [['verify-attestation', '127.0.0.1:1/app:1', '--key', 'k.pub', '-o', 'json'], /^ocipush: -o is cosign's option: --json prints what was verified/],
    [['verify', '127.0.0.1:1/app:1', '--certificate-identity', 'dev@example.com', '--certificate-oidc-issuer', 'https://accounts.example.com'], /^ocipush: --certificate-identity is cosign's option: keyless signing and verification .* are not supported: sign and verify with --key\n$/],
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

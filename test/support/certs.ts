import { join } from 'node:path';
import { requireTool, run } from './tools.js';

export interface SelfSignedCert {
  /** PEM certificate; also the CA to trust, since it signs itself. */
  certFile: string;
  /** PEM private key (unencrypted). */
  keyFile: string;
}

/**
 * Makes a P-256 self-signed certificate with openssl. EC keeps generation fast (a few ms) and is
 * accepted both by Go's TLS stack (the registry) and by libtrust (token signatures, ES256).
 */
export function makeSelfSignedCert(dir: string, name: string, subject: string, altNames: string[] = []): SelfSignedCert {
  requireTool('openssl');
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const args = [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '2', '-subj', subject, '-keyout', keyFile, '-out', certFile,
  ];
  if (altNames.length > 0) args.push('-addext', `subjectAltName=${altNames.join(',')}`);
  run('openssl', args);
  return { certFile, keyFile };
}

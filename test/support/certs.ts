import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/** A company's PKI as registries meet it: a root CA, an intermediate CA it signed, and server certificates the intermediate signs. */
export interface CaChain {
  /** The root CA certificate (PEM). */
  rootFile: string;
  /** The intermediate CA certificate (PEM), signed by the root. */
  intermediateFile: string;
  /** A server certificate signed by the intermediate; `chainFile` is it followed by the intermediate, as a server sends it. */
  leaf(name: string, options: { altNames: string[]; notBefore?: string; notAfter?: string }): { certFile: string; keyFile: string; chainFile: string };
}

/**
 * Makes a root CA and an intermediate CA with openssl; leaves are signed by `openssl ca`, whose
 * -startdate/-enddate (YYYYMMDDHHMMSSZ) make an expired or a not-yet-valid certificate.
 */
export function makeCaChain(dir: string): CaChain {
  requireTool('openssl');
  const key = (name: string) => {
    const file = join(dir, `${name}.key`);
    run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file]);
    return file;
  };
  const caExtensions = join(dir, 'ca.ext');
  writeFileSync(caExtensions, 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  const rootKey = key('root');
  const rootFile = join(dir, 'root.crt');
  run('openssl', ['req', '-x509', '-new', '-key', rootKey, '-days', '2', '-subj', '/CN=ocipush test root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', rootFile]);
  const intermediateKey = key('intermediate');
  const intermediateFile = join(dir, 'intermediate.crt');
  run('openssl', ['req', '-new', '-key', intermediateKey, '-subj', '/CN=ocipush test intermediate CA', '-out', join(dir, 'intermediate.csr')]);
  run('openssl', ['x509', '-req', '-in', join(dir, 'intermediate.csr'), '-CA', rootFile, '-CAkey', rootKey, '-CAcreateserial', '-days', '2', '-extfile', caExtensions, '-out', intermediateFile]);
  const database = join(dir, 'ca-db');
  mkdirSync(join(database, 'new'), { recursive: true });
  writeFileSync(join(database, 'index.txt'), '');
  writeFileSync(join(database, 'serial'), '1000\n');
  const config = join(database, 'ca.cnf');
  writeFileSync(config, [
    '[ca]', 'default_ca=leaves', '[leaves]', `database=${database}/index.txt`, `new_certs_dir=${database}/new`, `serial=${database}/serial`,
    'default_md=sha256', 'policy=anything', 'copy_extensions=copy', 'unique_subject=no', '[anything]', 'commonName=supplied', '',
  ].join('\n'));
  const now = Date.now();
  const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
  return {
    rootFile,
    intermediateFile,
    leaf(name, options) {
      const leafKey = key(name);
      const csr = join(dir, `${name}.csr`);
      run('openssl', ['req', '-new', '-key', leafKey, '-subj', `/CN=${name}`, '-addext', `subjectAltName=${options.altNames.join(',')}`, '-addext', 'extendedKeyUsage=serverAuth', '-out', csr]);
      const certFile = join(dir, `${name}.crt`);
      run('openssl', ['ca', '-batch', '-config', config, '-cert', intermediateFile, '-keyfile', intermediateKey, '-notext', '-in', csr, '-out', certFile,
        '-startdate', options.notBefore ?? stamp(now - 3600_000), '-enddate', options.notAfter ?? stamp(now + 2 * 86400_000)]);
      const chainFile = join(dir, `${name}-chain.crt`);
      writeFileSync(chainFile, readFileSync(certFile, 'utf8') + readFileSync(intermediateFile, 'utf8'));
      return { certFile, keyFile: leafKey, chainFile };
    },
  };
}

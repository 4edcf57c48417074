import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireTool } from '../support/tools.js';

/** Pushes SRC (any skopeo transport) as a signed Docker schema 1 manifest, as registries hold images pushed before 2017. */
export async function skopeoSchema1(source: string, reference: string): Promise<void> {
  requireTool('skopeo');
  await promisify(execFile)('skopeo', ['copy', '-q', '--format', 'v2s1', '--dest-tls-verify=false', source, `docker://${reference}`]);
}

/** skopeo copy between two transports named in full (oci:DIR:NAME, docker://… a registry over plain HTTP). */
export async function skopeoLayoutCopy(source: string, destination: string): Promise<void> {
  requireTool('skopeo');
  await promisify(execFile)('skopeo', ['copy', '-q', '--dest-tls-verify=false', source, destination]);
}

/**
 * The manifest digest as skopeo inspect reports it (for schema 1: of the payload without its
 * signatures); a reference with a transport (oci:DIR:NAME) as is, else a registry's.
 */
export async function skopeoDigest(reference: string): Promise<string> {
  const named = /^(oci|docker):/.test(reference) ? reference : `docker://${reference}`;
  const { stdout } = await promisify(execFile)('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', named], { encoding: 'utf8' });
  return stdout.trim();
}

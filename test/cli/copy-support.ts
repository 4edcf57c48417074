import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sha256 } from '../../src/oci/digest.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../support/token-issuer.js';
import { missingPath, requireTool } from '../support/tools.js';

export const PASSWORD = 'copy-Secret-7d2a';

/** Two registries as a release pipeline meets them: staging with htpasswd, production with a token issuer. */
export interface TwoRegistries {
  staging: RunningRegistry;
  production: RunningRegistry;
  issuer: TokenIssuer;
  /** A Docker config directory holding alice's credentials for both. */
  dockerConfig: string;
  stop(): Promise<void>;
}

export async function startTwoRegistries(dir: string): Promise<TwoRegistries> {
  // pusher may pull and push but not delete.
  const issuer = await startTokenIssuer({ users: { alice: { password: PASSWORD }, pusher: { password: PASSWORD, access: () => ['pull', 'push'] } } });
  const staging = await startRegistry({ auth: { htpasswd: { users: { alice: PASSWORD } } } });
  const production = await startRegistry({ auth: { token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, certFile: issuer.certFile } } });
  const dockerConfig = join(dir, 'docker-config');
  mkdirSync(dockerConfig, { recursive: true });
  const auth = Buffer.from(`alice:${PASSWORD}`).toString('base64');
  writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [staging.host]: { auth }, [production.host]: { auth } } }));
  return {
    staging, production, issuer, dockerConfig,
    async stop() {
      await staging.stop();
      await production.stop();
      await issuer.stop();
    },
  };
}

/** Environment with only the given Docker config (none of the caller's own credentials). */
export function envWith(dockerConfig = missingPath('docker-config'), extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { OCIPUSH_USERNAME: undefined, OCIPUSH_PASSWORD: undefined, OCIPUSH_REGISTRY_TOKEN: undefined, DOCKER_CONFIG: dockerConfig, ...extra };
}

/** `skopeo inspect --raw` without blocking this process (the token issuer lives here). */
export async function skopeoRaw(reference: string, extra: string[] = []): Promise<{ bytes: Buffer; digest: string }> {
  requireTool('skopeo');
  const { stdout } = await promisify(execFile)('skopeo', ['inspect', '--raw', '--tls-verify=false', ...extra, `docker://${reference}`], { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 });
  return { bytes: stdout, digest: sha256(stdout) };
}

/** skopeo's own exit status and stderr, for checks that an image is gone. */
export async function skopeoFails(reference: string, extra: string[] = []): Promise<string | undefined> {
  try {
    await promisify(execFile)('skopeo', ['inspect', '--raw', '--tls-verify=false', ...extra, `docker://${reference}`], { encoding: 'utf8' });
    return undefined;
  } catch (err) {
    return (err as { stderr?: string }).stderr ?? String(err);
  }
}

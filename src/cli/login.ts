import type { Argv } from 'yargs';
import { usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';

interface LoginArgs {
  registry: string;
  username?: string;
  passwordStdin?: boolean;
  plainHttp?: boolean;
  insecure?: boolean;
  caFile?: string[];
  certDir?: string;
}

/** One path component of a repository name (the distribution spec's grammar). */
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAMESPACE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);

/**
 * What login and logout name: a registry (`ghcr.io`, or a URL such as `https://index.docker.io/v1/`,
 * whose path says nothing), or a namespace in one (`quay.io/team-a`), as podman and skopeo take it.
 */
export function loginTarget(text: string): { registry: string; namespace?: string; key: string } {
  const isUrl = /^[a-z]+:\/\//i.test(text);
  const rest = text.replace(/^[a-z]+:\/\//i, '');
  const slash = rest.indexOf('/');
  const registry = slash < 0 ? rest : rest.slice(0, slash);
  if (!/^[a-zA-Z0-9.-]+(:[0-9]+)?$|^\[[0-9a-fA-F:]+\](:[0-9]+)?$/.test(registry)) throw usageError(`${text}: expected a registry host[:port] or host[:port]/namespace`);
  const namespace = isUrl || slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  if (namespace === '') return { registry, key: registry };
  if (!NAMESPACE.test(namespace)) throw usageError(`${text}: expected a registry host[:port] or host[:port]/namespace (a namespace is a repository path: lowercase, no tag or digest)`);
  return { registry, namespace, key: `${registry}/${namespace}` };
}

export const loginCommand: CliCommand<LoginArgs> = {
  command: 'login <registry>',
  describe: 'Check a credential against a registry, then store it where docker, podman, crane and skopeo look',
  builder: (y: Argv) => y
    .positional('registry', { type: 'string', describe: 'REGISTRY host[:port], or host[:port]/NAMESPACE for the repositories under it only (as podman login)' })
    .option('username', { alias: 'u', type: 'string', describe: 'User name' })
    .option('password-stdin', { type: 'boolean', describe: 'Read the password (or token) from standard input (never an argument); without it, both are asked on the terminal' })
    .option('plain-http', { type: 'boolean', describe: 'Speak plain HTTP to the registry' })
    .option('insecure', { type: 'boolean', describe: 'Accept any TLS certificate, and speak plain HTTP to a registry without TLS' })
    .option('ca-file', { type: 'string', array: true, describe: 'PEM CA certificate to trust (repeatable)' })
    .option('cert-dir', { type: 'string', describe: 'Directory of *.crt CA certificates and a NAME.cert/NAME.key client certificate, instead of the registry\'s certs.d' })
    .example('echo "$TOKEN" | $0 login ghcr.io -u me --password-stdin', 'stored in $DOCKER_CONFIG/config.json or its credsStore')
    .example('$0 login ghcr.io', 'on a terminal: asks the user name and the password (not shown), as docker login'),
  run: async (argv, out: Output) => {
    const { registry, namespace, key } = loginTarget(argv.registry);
    const { username, password } = await typedLogin(argv);
    const { connectRegistry } = await import('../registry/connect.js');
    const { staticCredentials } = await import('../registry/credentials/static.js');
    const { toArray } = await import('./command.js');
    // Only the credential given: a credential stored earlier must not make a wrong one pass.
    const client = connectRegistry(registry, {
      credentials: staticCredentials(registry, { username, password }),
      plainHttp: argv.plainHttp === true,
      insecure: argv.insecure === true,
      allowInsecureBasic: argv.insecure === true,
      caFiles: toArray(argv.caFile),
      ...(argv.certDir !== undefined ? { certDir: argv.certDir } : {}),
    });
    try {
      await client.ping();
      await client.close();
    } catch (err) {
      await client.destroy();
      throw err;
    }
    const { storeCredentials } = await import('../registry/credentials/store.js');
    const stored = await storeCredentials(registry, username, password, { namespace });
    out.info(`logged in to ${key} as ${username} (stored in ${stored.where})`);
    const inFront = await variableLoginFor(registry);
    // docker login warns of DOCKER_AUTH_CONFIG so: the login just checked is not the one the next push sends.
    if (inFront) out.warn(`a login for ${registry} in ${inFront.what} is used in front of the one just stored: ${inFront.remedy} for this one to be used`);
    // Absolute, as every path in --json output is ($DOCKER_CONFIG may be relative).
    const { resolve } = await import('node:path');
    const config = resolve(stored.path);
    out.result('Login Succeeded', { registry: key, username, storedIn: stored.where === stored.path ? config : stored.where, config });
  },
};

/**
 * The user name and password: `-u` and standard input with `--password-stdin` (CI), else asked on
 * the terminal as docker, podman and skopeo ask them. Standard input that is not a terminal is
 * never prompted on: it is a pipe someone forgot `--password-stdin` for, or CI.
 */
async function typedLogin(argv: LoginArgs): Promise<{ username: string; password: string }> {
  if (argv.passwordStdin) {
    if (!argv.username) throw usageError('login needs --username (-u) with --password-stdin');
    const { readPasswordStdin } = await import('../registry/credentials/stdin.js');
    return { username: argv.username, password: await readPasswordStdin() };
  }
  if (!process.stdin.isTTY) {
    throw usageError('login needs --password-stdin to read the password from standard input, which is not a terminal to ask it on (passwords are never taken as arguments)');
  }
  const { openTerminal, promptLine, promptHidden } = await import('./terminal.js');
  const terminal = (await openTerminal())!;
  try {
    const username = argv.username || (await promptLine(terminal.input, 'Username: ')).trim();
    if (!username) throw usageError('login: no user name typed');
    const typed = await promptHidden(terminal.input, 'Password: ');
    const password = typed.toString('utf8');
    typed.fill(0);
    if (!password) throw usageError('login: no password typed');
    return { username, password };
  } finally {
    terminal.close();
  }
}

export const logoutCommand: CliCommand<{ registry: string }> = {
  command: 'logout <registry>',
  describe: 'Remove the credential stored for a registry (config.json or its credential helper)',
  builder: (y: Argv) => y.positional('registry', { type: 'string', describe: 'REGISTRY host[:port], or host[:port]/NAMESPACE' })
    .example('$0 logout ghcr.io', 'the login for the registry (its credential helper\'s, or config.json\'s)')
    .example('$0 logout quay.io/team-a', 'the login for that namespace alone'),
  run: async (argv, out: Output) => {
    const { registry, namespace, key } = loginTarget(argv.registry);
    const { eraseCredentials } = await import('../registry/credentials/store.js');
    const found = await eraseCredentials(registry, { namespace });
    // Credentials are also read from the auth files skopeo and podman log in to: say so when one
    // still holds this registry, or the next push would use it as if nothing had happened.
    const { dockerConfigPath, legacyConfigPath, loginFileFor } = await import('../registry/credentials/docker-config.js');
    const remaining = await loginFileFor(registry, {}, namespace).catch(() => undefined);
    // The Docker config's own login for the whole registry, after a namespace's logout, is no surprise.
    if (remaining && remaining !== dockerConfigPath()) {
      const remedy = remaining === legacyConfigPath() ? 'no tool writes that file any more: edit or remove it' : 'skopeo logout or podman logout removes it';
      out.info(`a login for ${key} remains in ${remaining}, and ocipush still uses it (${remedy})`);
    }
    const inFront = await variableLoginFor(registry);
    if (inFront) out.info(`a login for ${key} remains in ${inFront.what}, and ocipush still uses it (${inFront.remedy})`);
    out.result(found ? `Removed login credentials for ${key}` : `Not logged in to ${key}`, { registry: key, removed: found });
  },
};

/**
 * A login for `registry` that environment variables give, which ocipush reads before the Docker
 * config (OCIPUSH_USERNAME/OCIPUSH_PASSWORD or OCIPUSH_REGISTRY_TOKEN, then DOCKER_AUTH_CONFIG's
 * entry, as docker 28 reads it): what login stores and logout removes does not change what the
 * next command sends while it is set. GitLab CI sets DOCKER_AUTH_CONFIG with a job's pull login.
 */
async function variableLoginFor(registry: string): Promise<{ what: string; remedy: string } | undefined> {
  const [{ envCredentials, ENV_USERNAME, ENV_PASSWORD, ENV_REGISTRY_TOKEN }, { dockerEnvCredentials, ENV_DOCKER_AUTH_CONFIG }] = await Promise.all([
    import('../registry/credentials/env.js'), import('../registry/credentials/docker-env.js'),
  ]);
  // A variable that cannot be read is reported by the command that reads it, not here.
  if (await envCredentials(registry).get(registry).catch(() => undefined)) {
    const what = process.env[ENV_USERNAME] ? `${ENV_USERNAME}/${ENV_PASSWORD}` : ENV_REGISTRY_TOKEN;
    return { what, remedy: `unset ${what}` };
  }
  if (await dockerEnvCredentials().get(registry).catch(() => undefined)) {
    return { what: ENV_DOCKER_AUTH_CONFIG, remedy: `unset ${ENV_DOCKER_AUTH_CONFIG} or take ${registry} out of it` };
  }
  return undefined;
}

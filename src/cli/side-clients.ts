import { usageError } from './command.js';
import { clientElsewhere, clientFromFlags, flagsForSide, type RegistryFlags, type Side } from './registry-options.js';
import type { RegistryClient, RetryNotice } from '../registry/http.js';
import type { Reference } from '../oci/reference.js';
import { withoutEnvCredentials } from '../registry/credentials/env.js';

/**
 * The registry clients of a command with two sides (copy): one per registry and set of flags, the
 * source's and the destination's credentials and transport flags kept apart (`--src-…`,
 * `--dest-…`), the shared ones for both. Standard input is read once: one side's password.
 */
export class SideClients {
  private readonly clients = new Map<string, Promise<RegistryClient>>();
  private readonly passwords: Partial<Record<Side, string>> = {};

  /**
   * The registry OCIPUSH_USERNAME/OCIPUSH_PASSWORD/OCIPUSH_REGISTRY_TOKEN are for: the destination's,
   * as for push. They are never handed to another registry (the source of a promotion).
   */
  envRegistry?: string;

  constructor(private readonly argv: Record<string, unknown>, private readonly onRetry: (n: RetryNotice, client: RegistryClient) => void) {}

  flags(side: Side): RegistryFlags {
    return flagsForSide(this.argv, side);
  }

  /** Reads --password-stdin (or --src-/--dest-password-stdin) once, for the sides that use a registry. */
  async readPasswords(srcUsed: boolean, destUsed: boolean): Promise<void> {
    const wants = (side: Side, used: boolean) => used && this.flags(side).passwordStdin === true;
    const src = wants('src', srcUsed);
    const dest = wants('dest', destUsed);
    if (!src && !dest) return;
    const own = (side: Side) => this.argv[`${side}PasswordStdin`] === true;
    if (src && dest && own('src') && own('dest')) throw usageError('--src-password-stdin and --dest-password-stdin cannot both read standard input (use the Docker config or OCIPUSH_USERNAME/OCIPUSH_PASSWORD for one side)');
    for (const side of ['src', 'dest'] as const) {
      const f = this.flags(side);
      if (f.passwordStdin && !f.username) throw usageError(`--${own(side) ? `${side}-` : ''}password-stdin needs --${own(side) ? `${side}-` : ''}username`);
    }
    const { readPasswordStdin } = await import('../registry/credentials/stdin.js');
    const password = await readPasswordStdin();
    if (src) this.passwords.src = password;
    if (dest) this.passwords.dest = password;
  }

  connect(side: Side, registry: string): Promise<RegistryClient> {
    const flags = this.flags(side);
    const key = JSON.stringify([registry, flags.username, flags.plainHttp, flags.insecure, flags.caFile, flags.certDir, this.passwords[side] !== undefined]);
    let client = this.clients.get(key);
    if (!client) {
      client = this.own(side, registry);
      this.clients.set(key, client);
    }
    return client;
  }

  /** A client of its own, with `side`'s flags, for a user that closes it (the registry cache closes its client). */
  own(side: Side, registry: string): Promise<RegistryClient> {
    const flags = this.flags(side);
    const password = this.passwords[side];
    const client: Promise<RegistryClient> = clientFromFlags(registry, { ...flags, passwordStdin: password !== undefined }, {
      ...(password !== undefined ? { password } : {}),
      ...(registry === this.envRegistry ? {} : { env: withoutEnvCredentials(process.env) }),
      onRetry: (n) => void client.then((c) => this.onRetry(n, c)),
    });
    return client;
  }

  /**
   * A client of its own for a registry neither side's credentials are for (COSIGN_REPOSITORY's on
   * another host, closed by its user): `side`'s TLS flags and time limits, and that registry's own
   * login from the Docker config. The side's --username, its password and OCIPUSH_USERNAME/PASSWORD
   * are never sent to a host they were not given for.
   */
  elsewhere(side: Side, registry: string): Promise<RegistryClient> {
    const client: Promise<RegistryClient> = clientElsewhere(registry, this.flags(side), { onRetry: (n) => void client.then((c) => this.onRetry(n, c)) });
    return client;
  }

  /** `elsewhere`'s client, shared by the calls for one registry and side, closed with the others. */
  connectElsewhere(side: Side, registry: string): Promise<RegistryClient> {
    const key = JSON.stringify(['elsewhere', side, registry]);
    let client = this.clients.get(key);
    if (!client) {
      client = this.elsewhere(side, registry);
      this.clients.set(key, client);
    }
    return client;
  }

  /** The same repository with the same flags on both sides: a copy onto itself. */
  sameEndpoint(a: Reference, b: Reference): boolean {
    const fa = this.flags('src');
    const fb = this.flags('dest');
    return a.registry === b.registry && a.repository === b.repository && fa.username === fb.username;
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) await (await c.catch(() => undefined))?.close();
  }

  async destroy(): Promise<void> {
    for (const c of this.clients.values()) await (await c.catch(() => undefined))?.destroy();
  }
}

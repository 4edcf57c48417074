import type { CliCommand } from './command.js';

/** A command's name (the first word of its `command`), its aliases and how to load its module. */
export interface CommandEntry {
  name: string;
  /** The other words of its `command` (`cp`): the argument check and completion know them without loading it. */
  aliases?: string[];
  load: () => Promise<CliCommand<any>>;
}

/**
 * Every command, in the order `--help` lists them. A run of one command loads only its module
 * (src/cli/fast-args.ts); `--help` and errors load them all. Add a command by adding its entry
 * here (test/cli/fast-args.test.ts checks that each name is its module's command).
 */
export const commandEntries: CommandEntry[] = [
  { name: 'build', load: async () => (await import('./build.js')).buildCommand },
  { name: 'push', load: async () => (await import('./push.js')).pushCommand },
  { name: 'pull', load: async () => (await import('./pull.js')).pullCommand },
  { name: 'inspect', load: async () => (await import('./inspect.js')).inspectCommand },
  { name: 'export', load: async () => (await import('./export.js')).exportCommand },
  { name: 'index', load: async () => (await import('./index-command.js')).indexCommand },
  { name: 'gc', aliases: ['prune'], load: async () => (await import('./gc.js')).gcCommand },
  { name: 'cache', load: async () => (await import('./cache.js')).cacheCommand },
  { name: 'generate-key-pair', load: async () => (await import('./generate-key-pair.js')).generateKeyPairCommand },
  { name: 'sign', load: async () => (await import('./sign.js')).signCommand },
  { name: 'verify', load: async () => (await import('./verify.js')).verifyCommand },
  { name: 'sign-blob', load: async () => (await import('./sign-blob.js')).signBlobCommand },
  { name: 'verify-blob', load: async () => (await import('./verify-blob.js')).verifyBlobCommand },
  { name: 'attach', load: async () => (await import('./attach.js')).attachCommand },
  { name: 'referrers', load: async () => (await import('./referrers.js')).referrersCommand },
  { name: 'artifact', load: async () => (await import('./artifact.js')).artifactCommand },
  { name: 'sbom', load: async () => (await import('./sbom.js')).sbomCommand },
  { name: 'attest', load: async () => (await import('./attest.js')).attestCommand },
  { name: 'verify-attestation', load: async () => (await import('./verify-attestation.js')).verifyAttestationCommand },
  { name: 'copy', aliases: ['cp'], load: async () => (await import('./copy.js')).copyCommand },
  { name: 'mutate', load: async () => (await import('./mutate.js')).mutateCommand },
  { name: 'rebase', load: async () => (await import('./rebase.js')).rebaseCommand },
  { name: 'flatten', load: async () => (await import('./flatten.js')).flattenCommand },
  { name: 'rootfs', load: async () => (await import('./rootfs.js')).rootfsCommand },
  { name: 'validate', load: async () => (await import('./validate.js')).validateCommand },
  { name: 'tag', load: async () => (await import('./tag.js')).tagCommand },
  { name: 'ls', load: async () => (await import('./ls.js')).lsCommand },
  { name: 'catalog', load: async () => (await import('./ls.js')).catalogCommand },
  { name: 'digest', load: async () => (await import('./digest.js')).digestCommand },
  { name: 'manifest', load: async () => (await import('./manifest.js')).manifestCommand },
  { name: 'config', load: async () => (await import('./config.js')).configCommand },
  { name: 'blob', load: async () => (await import('./blob.js')).blobCommand },
  { name: 'delete', load: async () => (await import('./delete.js')).deleteCommand },
  { name: 'untag', load: async () => (await import('./untag.js')).untagCommand },
  { name: 'login', load: async () => (await import('./login.js')).loginCommand },
  { name: 'logout', load: async () => (await import('./logout.js')).logoutCommand },
  { name: 'completion', load: async () => (await import('./completion.js')).completionCommand },
];

export function loadCommands(): Promise<CliCommand<any>[]> {
  return Promise.all(commandEntries.map((e) => e.load()));
}

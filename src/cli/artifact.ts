import type { Argv } from 'yargs';
import { toArray, usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';

export interface ArtifactArgs extends RegistryFlags {
  action: string;
  reference: string;
  files?: string[];
  artifactType?: string;
  output?: string;
  annotation?: string[];
  annotationFile?: string;
  created?: string;
  exportManifest?: string;
  keepOldFiles?: boolean;
}

export const artifactCommand: CliCommand<ArtifactArgs> = {
  command: 'artifact <action> <reference> [files..]',
  describe: 'Push files as an OCI 1.1 artifact, or get an artifact\'s files back, as oras push and oras pull do',
  builder: (y: Argv) => registryFlags(y
    .positional('action', { type: 'string', choices: ['push', 'get'], describe: 'push: store FILES as an artifact under REFERENCE; get: write the artifact\'s files' })
    .positional('reference', { type: 'string', describe: 'The artifact, REGISTRY/REPOSITORY[:TAG|@DIGEST] or oci:DIR[:NAME] (push: default tag latest); for get with --artifact-type, the image it refers to' })
    .positional('files', { type: 'string', array: true, describe: 'push: FILE or FILE:MEDIATYPE (default media type application/vnd.oci.image.layer.v1.tar), each a layer titled with its path as given, cleaned, as oras push titles it' })
    .option('artifact-type', { type: 'string', describe: 'push: the artifact\'s type (default application/vnd.unknown.artifact.v1, as oras); get: REFERENCE is an image, get its newest referrer of this type' })
    .option('output', { alias: 'o', type: 'string', describe: 'get: directory to write the files into, each under its title (default: stdout, for an artifact of one file)' })
    .option('keep-old-files', { type: 'boolean', describe: 'get: refuse, before anything is written, a file or directory already in -o DIR under a title (as oras pull --keep-old-files); default: replace it' })
    .option('annotation', { alias: 'a', type: 'string', array: true, describe: 'push: KEY=VALUE manifest annotation (repeatable)' })
    .option('annotation-file', { type: 'string', describe: 'push: annotations from a JSON file, as oras reads it: {"$manifest": {…}, "$config": {…}, "FILE": {…}}' })
    .option('created', { type: 'string', describe: 'push: the artifact\'s org.opencontainers.image.created (RFC 3339 or unix seconds); default SOURCE_DATE_EPOCH, else none, so the same files give the same artifact' })
    .option('export-manifest', { type: 'string', describe: 'push: also write the artifact\'s manifest, byte for byte as pushed, to FILE (as oras push --export-manifest)' })
    .example('$0 artifact push registry.example.com/app/config:1 --artifact-type application/vnd.example.config app.yaml', 'app.yaml as an artifact, tag 1')
    .example('$0 artifact get registry.example.com/app:1 --artifact-type application/vnd.example.notes -o notes/', 'the files attach attached to app:1')
    .example('$0 artifact get registry.example.com/app@sha256:… > report.json', 'the one file of an artifact, to stdout')
    .example('$0 artifact get oci:out:app --artifact-type application/spdx+json -o sbom/', 'the SBOM a build --sbom kept in its layout')),
  run: async (argv, out: Output) => {
    if (argv.action === 'push') {
      if (argv.keepOldFiles !== undefined) throw usageError('--keep-old-files is for artifact get');
      return (await import('./artifact-push.js')).artifactPush(argv, out);
    }
    if (toArray(argv.files).length > 0) throw usageError('artifact get takes no files (did you mean artifact push?)');
    for (const [key, flag] of [['annotation', 'annotation'], ['annotationFile', 'annotation-file'], ['created', 'created'], ['exportManifest', 'export-manifest']] as const) if (argv[key] !== undefined) throw usageError(`--${flag} is for artifact push`);
    return (await import('./artifact-get.js')).artifactGet(argv, out);
  },
};

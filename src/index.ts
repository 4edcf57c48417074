/**
 * The ocipush library: `import { buildImage } from 'ocipush'`. Each area adds its exports here;
 * keep this list additive.
 */
export { OcipushError, isOcipushError, type ErrorCode, type ErrorDetails } from './errors.js';
export * from './oci/index.js';
export { OciLayout, type BlobWriter, type OpenLayoutOptions } from './content/layout.js';
export {
  isBlobSourceProvider, isSourcePusher, isReferencePusher, isTagResolver, isReferrerLister, isRegistryLocated, isMountLookup,
  type Storage, type ReadOnlyStorage, type TagResolver, type OperationOptions, type BlobSourceProvider, type SourcePusher,
  type ReferencePusher, type ReferrerLister, type RegistryLocated, type BlobPushOptions, type SourcePushOutcome, type MountLookup,
} from './content/storage.js';

// the image model: one loader over every storage, and the transports that open them
export { loadImage, loadImageOrIndex, readManifest, blobView, type LoadOptions, type LoadImageOptions } from './image/load.js';
export type { ImageView, IndexView, ImageOrIndex, LayerView, BlobView } from './image/view.js';
export { choosePlatform, DEFAULT_PLATFORM, type PlatformChoice } from './image/platform.js';
export { validateImage, type ValidateOptions, type ValidationReport, type ValidationProblem, type ValidatedManifest } from './image/validate.js';
export { openImage, openLocation, type OpenedImage, type OpenOptions } from './transports/open.js';
export { parseTransport, type ImageLocation, type TransportName } from './transports/parse.js';
export { DockerArchiveReader, type DockerArchiveImage } from './archive/docker-archive-reader.js';
export type { ImageSelector } from './archive/select.js';
export { OciArchiveReader } from './archive/oci-archive-reader.js';
export { writeFilesystem, type FilesystemSummary } from './archive/filesystem.js';

// build
export { buildImage, type BuildOptions, type BuildResult, type BuildProgress, type BuiltLayer } from './assemble/build-image.js';
export type { RunConfig } from './assemble/config.js';
// What a build's options and result name: output (SBOM format, signed provenance), the stored image, layer progress.
export type { ImageOutputOptions } from './assemble/output-options.js';
export type { ProvenanceOptions, BuiltProvenance } from './assemble/build-provenance.js';
export type { BuiltSbom } from './assemble/build-sbom.js';
export type { SbomFormat } from './supply-chain/sbom/documents.js';
export type { StoredImage } from './assemble/store-image.js';
export type { LayerProgress } from './layer/layer.js';
export type { LayerOrigin } from './assemble/build-extras.js';
// The signer a build's `provenance` takes: a key (cosign's encrypted key files too, through parsePrivateKey), or any Signer.
export { KeySigner, KeyVerifier, type Signer, type SignatureMaterial, type Verifier } from './supply-chain/signer.js';
export { parsePrivateKey, type PasswordSource } from './supply-chain/keys.js';
export { resolveBaseImage, storeBaseImage, baseBlobs, isLayoutReference, type BaseImage, type BaseSource, type ResolveBaseOptions } from './assemble/base.js';
export { LazyBlobs, fetchRecordedBlobs, defaultConnect, type ConnectRegistry, type LazyBlobsOptions } from './transfer/lazy-blobs.js';
export { createImageIndex, IndexEntries, type CreateIndexOptions, type CreateIndexResult } from './assemble/create-index.js';
export { composeIndex, type IndexSource, type ComposedIndex } from './assemble/compose-index.js';
export { mergeContainerConfig, convertLayer } from './assemble/compose.js';
export { mutateImage, hasChanges, type ImageChanges, type MutatedImage, type MadeBlob } from './assemble/mutate.js';
export { rebaseImage, type RebaseOptions, type RebasedImage, type OpenedBase } from './assemble/rebase.js';
export { flattenImages, type FlattenOptions, type FlattenedImages, type FlattenedImage } from './assemble/flatten.js';
export { withBlobs, type BorrowedBlobs } from './content/with-blobs.js';
export { DEFAULT_LAYOUT_DIR, DEFAULT_TAG, DEFAULT_CONCURRENCY } from './defaults.js';
export { defaultLayoutDir } from './transports/layout-name.js';
export { buildDockerfile, type DockerfileBuildOptions, type DockerfileBuildResult } from './dockerfile-exec/build-dockerfile.js';

// export
export {
  exportDockerArchive, parseImageSelector, DEFAULT_EXPORT_PLATFORM,
  type ExportOptions, type ExportResult, type ArchiveSummary, type ArchiveImageSummary, type DockerArchiveManifestEntry,
} from './archive/export.js';
export type { ArchiveOptions } from './archive/docker-archive.js';

// registry: push, pull, copy
export {
  copyGraph,
  type CopyOptions, type CopyResult, type CopyEvent, type CopiedNode, type CopyOutcome, type NodeKind,
} from './transfer/copy-graph.js';
export { connectRegistry, type ConnectOptions } from './registry/connect.js';
export {
  RegistryClient, type Authorizer, type RegistryClientOptions, type RegistryRequest, type RegistryResponse, type RetryNotice,
  type RequestTiming, type RegistryQuirks, type HttpMethod, type BodyOpener, type RequestBody,
} from './registry/http.js';
export type { TransportOptions } from './registry/transport.js';
export type { FetchedManifest } from './registry/manifests.js';
export type { ReferrersMethod } from './registry/referrers.js';
export { Repository, type RepositoryOptions, type PushBlobOptions, type BlobOutcome } from './registry/repository.js';
export { UPLOAD_DEFAULTS } from './registry/upload.js';
export { DEFAULT_RETRY_POLICY, DEFAULT_TIMEOUTS, type RetryPolicy, type Timeouts } from './registry/retry.js';
export { fileSource, storageSource, bufferSource, type BlobSource, type BlobBody } from './content/blob-source.js';

// ---- high-level calls (src/lib/): build, push, pull with one options shape -----------------
// `import { build, push, defaultCredentials } from 'ocipush'`: a release script in ten lines.
export { build, push, pull, copy, copyRepository, sign, verify, validate, defaultCredentials, type LibrarySignOptions, type LibrarySignResult, type LibraryVerifyOptions, type LibraryVerifyResult, type LibraryCopyOptions, type LibraryCopyResult, type CopyRepositoryOptions, type CopyRepositoryResult, type LibraryValidateOptions, type DirectoryBuildOptions, type DockerfileOptions, type PushOptions, type PushResult, type PullOptions, type PullResult, type RegistryOptions } from './lib/index.js';
// The credential chain the CLI uses: flags (username + password), OCIPUSH_* variables, the Docker config and its helpers.
export type { DefaultCredentialOptions } from './registry/credentials/default.js';
export { chainCredentials } from './registry/credentials/chain.js';
export { staticCredentials } from './registry/credentials/static.js';
export { envCredentials, ENV_USERNAME, ENV_PASSWORD, ENV_REGISTRY_TOKEN } from './registry/credentials/env.js';
export { dockerConfigCredentials, dockerConfigPath, type DockerConfigOptions } from './registry/credentials/docker-config.js';
export { dockerEnvCredentials } from './registry/credentials/docker-env.js';
export type { Credentials, CredentialSource } from './registry/auth/types.js';
// ---- end of the high-level calls ------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Dockerfile front end (pure: no I/O), as docs/dockerfile.md describes under "Library":
// parsing a Dockerfile, resolving its stages (ARG scoping, variable expansion), expanding words
// with BuildKit's shell lexer, and matching .dockerignore patterns.
export {
  parseDockerfile, parseTrigger, KNOWN_INSTRUCTIONS, DEFAULT_DOCKERFILE_NAME,
  resolveStages, resolveBaseImages, platformArgs,
  processWord, expandVariables, expandWords, ExpansionError,
  parseDockerignore, createIgnoreMatcher,
  type EscapeToken, type EnvSource, type LexOptions, type ExpansionResult,
  type IgnorePattern, type IgnoreMatcher, type IgnoreMatcherOptions, type PlatformSpec, type SourcePosition,
  type ParsedDockerfile, type ParserDirectives, type Stage as DockerfileStage, type StageInstruction, type Instruction, type InstructionBase,
  type DockerfileWarning, type ParsedFlag, type KeyValue, type FromInstruction, type ArgInstruction, type EnvInstruction, type LabelInstruction,
  type ExposeInstruction, type UserInstruction, type WorkdirInstruction, type StopSignalInstruction, type VolumeInstruction,
  type ShellInstruction, type MaintainerInstruction, type CommandLineInstruction, type RunInstruction, type HealthcheckInstruction,
  type CopyInstruction, type AddInstruction, type OnbuildInstruction, type HeredocSource,
  type ResolveOptions, type ResolvedDockerfile, type ResolvedStage, type ResolvedInstruction, type ResolvedCopyInstruction,
  type ResolvedWorkdirInstruction, type ResolvedCommandLineInstruction, type ResolvedExposeInstruction, type BaseImageConfig,
  type BaseImageRef, type StageBase,
} from './dockerfile/index.js';
// ---- end of the Dockerfile front end ---------------------------------------------------------

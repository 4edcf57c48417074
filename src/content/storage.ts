import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/descriptor.js';
import type { BlobSource } from './blob-source.js';

/** What every I/O operation of a storage accepts: a signal that cancels it. */
export interface OperationOptions {
  signal?: AbortSignal;
}

/** The part of a caller's options an I/O operation takes (its signal), for options that carry more. */
export function operationOptions(options: OperationOptions): OperationOptions {
  return options.signal ? { signal: options.signal } : {};
}

/**
 * Storage keyed by descriptor, as oras-go has it. Every implementation verifies: `fetch` yields a
 * stream that fails if the bytes do not match `desc.digest` and `desc.size`, and `push` refuses to
 * store content under a digest it does not have.
 */
export interface ReadOnlyStorage {
  exists(desc: Descriptor, options?: OperationOptions): Promise<boolean>;
  fetch(desc: Descriptor, options?: OperationOptions): Promise<Readable>;
}

export interface Storage extends ReadOnlyStorage {
  push(desc: Descriptor, content: Readable, options?: OperationOptions): Promise<void>;
}

/** Names (tags) resolved to the descriptors they point at. */
export interface TagResolver {
  resolve(reference: string, options?: OperationOptions): Promise<Descriptor>;
  tag(desc: Descriptor, reference: string, options?: OperationOptions): Promise<void>;
}

/*
 * Optional powers a storage may have, asked for with the `has…` guards below, never with
 * `instanceof`: a new kind of storage takes part in a copy by implementing what it can.
 */

/** Hands out blobs that can be read again, whole or by range (for chunked uploads, retries, resumes). */
export interface BlobSourceProvider {
  blobSource(desc: Descriptor): BlobSource;
}

export interface BlobPushOptions extends OperationOptions {
  /** Repositories of the same registry that may hold the blob, to mount it from. */
  mountFrom?: string[];
  /** Told of each repository of `mountFrom` the registry would not mount the blob from (it lacks it, or denies it). */
  onMountDeclined?: (fromRepository: string) => void;
  onProgress?: (bytes: number) => void;
  onNotice?: (message: string) => void;
}

/** What became of a blob pushed from a source: sent, mounted from another repository. */
export type SourcePushOutcome = 'uploaded' | 'mounted';

/** Takes a blob from a re-readable source (a registry: chunks, retries, mounts), rather than from a one-shot stream. */
export interface SourcePusher {
  pushBlob(desc: Descriptor, source: BlobSource, options?: BlobPushOptions): Promise<SourcePushOutcome>;
}

/**
 * Says whether a blob of `size` bytes would go up in one request as things stand (a registry: no
 * chunked plan asked for, nothing learned that needs one). A copy sends a small config beside the
 * layers only then; otherwise it waits for what the layers teach.
 */
export interface UploadPlanner {
  uploadsInOneRequest(size: number): Promise<boolean>;
}

/** Stores a manifest under a reference in one step (a registry's PUT /manifests/<tag>), as oras-go's ReferencePusher. */
export interface ReferencePusher {
  pushManifest(desc: Descriptor, bytes: Buffer, reference?: string, options?: OperationOptions): Promise<void>;
}

/** Knows which repositories of a registry hold some of its blobs (a lazy layout's base layers), for a copy there to mount them. */
export interface MountLookup {
  mountLookup(registry: string): Promise<(desc: Pick<Descriptor, 'digest'>) => string[]>;
}

/**
 * Keeps a record of the repositories that hold its blobs (a layout's): told after a copy where
 * they went, so a later push to another repository of that registry mounts them, and which
 * repositories declined to give one, so they are not asked again.
 */
export interface MountSourceRecorder {
  remember(blobs: Pick<Descriptor, 'digest'>[], repository: string): Promise<void>;
  forgetMountSources(entries: { descriptor: Descriptor; repository: string }[]): Promise<void>;
}

/** Lists the manifests whose `subject` is `desc` (OCI 1.1 referrers). */
export interface ReferrerLister {
  referrers(desc: Descriptor, options?: OperationOptions & { artifactType?: string }): Promise<Descriptor[]>;
}

/**
 * Holds the bytes of foreign (non-distributable) layers too, when it says so: a docker archive,
 * whose manifest.json names a file for every layer. Other storages go without them.
 */
export interface ForeignLayerKeeper {
  keepsForeignLayers(): boolean;
}

/** Where a registry storage lives, so a copy within one registry can mount instead of moving bytes. */
export interface RegistryLocated {
  readonly registry: string;
  readonly repositoryName: string;
}

function has<K extends string>(value: unknown, ...methods: K[]): value is Record<K, (...args: never[]) => unknown> {
  return typeof value === 'object' && value !== null && methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
}

export function isBlobSourceProvider(value: unknown): value is BlobSourceProvider {
  return has(value, 'blobSource');
}

export function isSourcePusher(value: unknown): value is SourcePusher {
  return has(value, 'pushBlob');
}

export function isUploadPlanner(value: unknown): value is UploadPlanner {
  return has(value, 'uploadsInOneRequest');
}

export function isReferencePusher(value: unknown): value is ReferencePusher {
  return has(value, 'pushManifest');
}

export function isTagResolver(value: unknown): value is TagResolver {
  return has(value, 'resolve', 'tag');
}

export function isMountLookup(value: unknown): value is MountLookup {
  return has(value, 'mountLookup');
}

export function isMountSourceRecorder(value: unknown): value is MountSourceRecorder {
  return has(value, 'remember', 'forgetMountSources');
}

export function isReferrerLister(value: unknown): value is ReferrerLister {
  return has(value, 'referrers');
}

export function isForeignLayerKeeper(value: unknown): value is ForeignLayerKeeper {
  return has(value, 'keepsForeignLayers');
}

export function isRegistryLocated(value: unknown): value is RegistryLocated {
  const v = value as Partial<RegistryLocated> | null;
  return typeof v === 'object' && v !== null && typeof v.registry === 'string' && typeof v.repositoryName === 'string';
}

import type { Compression, ImageFormat } from '../oci/media-types.js';
import type { ConnectRegistry } from '../transfer/lazy-blobs.js';
import type { SbomFormat } from '../supply-chain/sbom/index.js';
import type { ProvenanceOptions } from './build-provenance.js';
import type { StoredImage } from './store-image.js';

/** What every build (`buildImage`, `buildDockerfile`) takes about where and how it writes the image. */
export interface ImageOutputOptions {
  /** The OCI image layout to write into (created when missing). Default `$OCIPUSH_LAYOUT` (`DIR` or `oci:DIR`) or `./oci-layout`. */
  layout?: string;
  /** Default `latest`. */
  tag?: string;
  /** How to reach a base image's registry (TLS, credentials); default: Docker-config credentials, default TLS. */
  connect?: ConnectRegistry;
  /** Media type family of the image: `oci` (default) or `docker` (v2 schema 2). */
  format?: ImageFormat;
  /** The image's creation time (RFC 3339, unix seconds or a Date); also the clamp for file mtimes. */
  created?: Date | string | number;
  /** Used when `created` is unset; default `process.env.SOURCE_DATE_EPOCH`. */
  sourceDateEpoch?: string;
  /** Manifest annotations. */
  annotations?: Record<string, string>;
  /** Layer compression, default gzip. */
  compression?: Compression;
  level?: number;
  threads?: number;
  /**
   * `REGISTRY/REPO` holding a layer cache shared through the registry (registry-cache.ts): each
   * layer's tar is hashed first and looked up there; a hit is not compressed, and its blob is
   * recorded as living in that repository. Reached with `connect`.
   */
  cacheRepo?: string;
  /**
   * Reuse a layer built before into the same layout (the layer cache, layer/cache-key.ts) when
   * what makes its bytes is unchanged: the options, and every entry's metadata with the inode,
   * size, mtime and ctime of the file its bytes come from. Default true; false always reads, tars
   * and compresses every layer, and still records them for the next build (as `docker build
   * --no-cache` does: the cache is not read, but it is written).
   */
  cache?: boolean;
  /**
   * The wall clock the layer cache compares file times with (ms since the epoch; default
   * Date.now): a file changed within 2 s of the build's start is not recorded. Tests set it instead of waiting.
   */
  cacheClock?: () => number;
  /** With `cacheRepo`: store the layers this build made there (blob and entry) before returning; else the next push does. */
  cacheWrite?: boolean;
  /** The clock stamped on new registry cache entries (for pruning by age); default the system's. */
  now?: () => Date;
  /** Also make an SBOM of the image (SPDX 2.3 or CycloneDX 1.6 JSON), stored as its referrer in the layout. */
  sbom?: SbomFormat;
  /** Also make a signed SLSA provenance attestation of the build, stored as the image's referrer. */
  provenance?: ProvenanceOptions;
  onWarning?: (message: string) => void;
  /**
   * Told once the image is tagged in the layout, before its referrers and registry cache entries
   * are written (with `cacheWrite`, uploads that may take minutes): from here a stopped build
   * leaves the image in the layout, which an interruption's message must say.
   */
  onStored?: (image: StoredImage) => void | Promise<void>;
  signal?: AbortSignal;
}

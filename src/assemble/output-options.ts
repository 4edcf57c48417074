import type { Compression, ImageFormat } from '../oci/media-types.js';
import type { ConnectRegistry } from '../transfer/lazy-blobs.js';

/** What every build (`buildImage`, `buildDockerfile`) takes about where and how it writes the image. */
export interface ImageOutputOptions {
  /** The OCI image layout to write into (created when missing). Default `$OCIPUSH_LAYOUT` or `./oci-layout`. */
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
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

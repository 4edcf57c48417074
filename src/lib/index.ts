/**
 * The high-level library: what the CLI's commands do (build, push, pull, copy, copyRepository, sign, verify, validate), as calls that
 * take one options object each. The registry options (`credentials`, `plainHttp`, `insecure`, `caFile`, `concurrency`,
 * `signal`) are shared by every call and mean what the CLI's flags of the same name mean.
 */
export { build, type DirectoryBuildOptions, type DockerfileOptions } from './build.js';
export { push, type PushOptions, type PushResult } from './push.js';
export { pull, type PullOptions, type PullResult } from './pull.js';
export { copy, type CopyOptions as LibraryCopyOptions, type CopyResult as LibraryCopyResult } from './copy.js';
export { copyRepository, type CopyRepositoryOptions, type CopyRepositoryResult } from './copy-repository.js';
export { sign, verify, type SignOptions as LibrarySignOptions, type SignResult as LibrarySignResult, type VerifyOptions as LibraryVerifyOptions, type VerifyResult as LibraryVerifyResult } from './sign.js';
export { validate, type ValidateOptions as LibraryValidateOptions } from './validate.js';
export { type RegistryOptions } from './options.js';
export { inLibraryTerms } from './errors.js';
export { defaultCredentials } from './credentials.js';

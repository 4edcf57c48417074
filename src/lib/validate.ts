import type { ValidationReport } from '../image/validate.js';
import { libraryCall, type LibraryCall } from './errors.js';
import { connectWith, platformOf, type RegistryOptions } from './options.js';

export interface ValidateOptions extends RegistryOptions {
  /** `REGISTRY/REPO[:TAG|@DIGEST]`, `oci:DIR[:NAME]` (without a name: every image of the layout), `oci-archive:FILE`, `docker-archive:FILE`. */
  image: string;
  /** Only ask whether each blob is there at its size (HEAD, stat): read no layer. */
  fast?: boolean;
  /** Of an index, only the image for this `os/arch[/variant]`. */
  platform?: string;
  /** Take `platform` as it is, also an os, architecture or variant the OCI image spec does not list (the CLI's `--unlisted-platform`); without it a typo is refused before any request. */
  unlistedPlatform?: boolean;
}

const VALIDATE: LibraryCall<ValidateOptions> = { name: 'validate', required: { image: 'the image to check (REGISTRY/REPO[:TAG|@DIGEST], oci:DIR[:NAME], oci-archive:FILE, docker-archive:FILE)' }, strings: ['platform'], booleans: ['fast'], what: (o) => `validate ${o.image}` };

/**
 * `ocipush validate`: every manifest and blob of the image checked against its digest, every
 * layer decompressed against its diff_id. Resolves with the report whether or not the image is
 * valid (`problems` is empty when it is); rejects only for what is not about the image (the
 * registry unreachable, credentials refused, cancelled). A layout is left as it was.
 */
export function validate(options: ValidateOptions): Promise<ValidationReport> {
  return libraryCall(VALIDATE, options, async (options) => {
    const { openImage } = await import('../transports/open.js');
    const { validateImage } = await import('../image/validate.js');
    const platform = await platformOf(options);
    // The signal reaches the manifest's fetch too: without it an abort waited for the registry's answer (or the request timeout).
    const opened = await openImage(options.image, { connect: (registry) => connectWith(registry, options), keep: false, everyImage: true, ...(options.signal ? { signal: options.signal } : {}) });
    try {
      return await validateImage(opened.storage, opened.root, {
        name: opened.name, ...(options.fast ? { fast: true } : {}), ...(platform ? { platform } : {}),
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } finally {
      await opened.close();
    }
  });
}

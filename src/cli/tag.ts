import type { Argv } from 'yargs';
import { toArray, usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import type { LayoutTarget } from './repository-ref.js';

interface TagArgs extends RegistryFlags {
  reference: string;
  tags: string[];
}


export const tagCommand: CliCommand<TagArgs> = {
  command: 'tag <reference> <tags..>',
  describe: 'Give an image more tags, in the same repository or layout (no blob moves)',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: 'REGISTRY/REPOSITORY:TAG or @DIGEST of the image, or oci:DIR[:NAME] (names in the layout\'s index.json, as umoci tag)' })
    .positional('tags', { type: 'string', array: true, describe: 'New tags' })
    .example('$0 tag localhost:5000/app:1.4.2 1.4 1 latest', 'three more tags for 1.4.2')
    .example('$0 tag oci:out:app 1.4.2', 'the image app of the layout out is also 1.4.2')),
  run: async (argv, out: Output) => {
    const { layoutTarget, registryReference, withRepository } = await import('./repository-ref.js');
    const { referenceTarget, formatReference, isValidTag } = await import('../oci/reference.js');
    const tags = toArray(argv.tags);
    const inLayout = await layoutTarget(argv.reference, 'tag');
    if (inLayout) return tagInLayout(inLayout, tags, out);
    const ref = await registryReference(argv.reference);
    const { parseReference } = await import('../oci/reference.js');
    for (const [i, t] of tags.entries()) {
      if (isValidTag(t)) continue;
      // As docker tag takes it: the full reference, which must be of the same repository.
      let named: ReturnType<typeof parseReference> | undefined;
      try { named = parseReference(t.replace(/^docker:\/\//, '')); } catch { /* not a reference either */ }
      if (!named || !named.tag || named.digest || !/[/:]/.test(t)) throw usageError(`"${t}": not a valid tag`);
      if (named.registry !== ref.registry || named.repository !== ref.repository) {
        // `tag 1.4 localhost:5000/app:1` (docker tag's SOURCE TARGET read backwards): the image comes first.
        if (isValidTag(argv.reference) && !/^(?:docker:\/\/)?(?:docker\.io|index\.docker\.io)\//.test(argv.reference) && named.registry !== ref.registry) {
          throw usageError(`"${argv.reference}" is a tag, "${t}" an image: the image comes first, its new tags after: ocipush tag ${t} ${argv.reference}`);
        }
        // `other/x:1` beside an image in another registry is Docker Hub's only by docker's reading:
        // the repository meant is the image's registry's, where a copy mounts the blobs.
        const { DOCKER_HUB } = await import('../oci/reference.js');
        const hubByDefault = named.registry === DOCKER_HUB && ref.registry !== DOCKER_HUB && !/^(?:docker:\/\/)?(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\//.test(t);
        const to = hubByDefault ? `${ref.registry}/${t.replace(/^docker:\/\//, '')}` : t;
        const mounted = hubByDefault || named.registry === ref.registry ? ' (its blobs mounted, not sent again)' : '';
        throw usageError(`"${t}": tag names more tags in ${ref.registry}/${ref.repository}; to put the image in another repository: ocipush copy ${formatReference(ref)} ${to}${mounted}`);
      }
      tags[i] = named.tag;
    }
    const root = await withRepository(ref, argv, async (repository) => {
      // A Docker schema 1 manifest is tagged too (its bytes PUT again, as crane tag does): nothing in it is read.
      const fetched = await repository.fetchManifest(referenceTarget(ref), { keepSchema1: true });
      // The same bytes PUT again under each tag: a GET, then one PUT per tag.
      for (const t of tags) {
        await repository.tag(fetched.descriptor, t).catch(async (err: unknown) => {
          // Read rights without push rights: said of the tag, as delete says it of the manifest.
          const { OcipushError } = await import('../errors.js');
          if (!(err instanceof OcipushError) || err.code !== 'EAUTH') throw err;
          throw new OcipushError('EAUTH', `${ref.registry}/${ref.repository}:${t}: no permission to push the tag (${err.message})`, err.details);
        });
      }
      return fetched.descriptor;
    });
    const where = `${ref.registry}/${ref.repository}`;
    out.info(`tagged ${formatReference(ref)} (${root.digest}) as ${tags.map((t) => `${where}:${t}`).join(', ')}`);
    out.result(root.digest, { reference: formatReference(ref), digest: root.digest, tags });
  },
};

/** Names in a layout's index.json: each entry a copy of the image's, under the new name. */
async function tagInLayout(target: LayoutTarget, names: string[], out: Output): Promise<void> {
  const { isLayoutRefName } = await import('../oci/reference.js');
  const { isDigest } = await import('../oci/digest.js');
  const { resolve } = await import('node:path');
  const { layoutTarget, withLayout } = await import('./repository-ref.js');
  for (const [i, given] of names.entries()) {
    if (!given.startsWith('oci:')) continue;
    // As docker tag takes its TARGET: the full name, which must be in the same layout (`oci:out:1.4`
    // is the name 1.4 of out, never a name "oci:out:1.4").
    const named = await layoutTarget(given, 'tag');
    if (!named?.name || isDigest(named.name)) throw usageError(`"${given}": names no new name; the new names come after the image: ocipush tag ${target.text} NAME`);
    if (resolve(named.path) !== resolve(target.path)) throw usageError(`"${given}": tag names more images in ${target.path}; to put the image in another layout: ocipush copy ${target.text} ${given}`);
    names[i] = named.name;
  }
  for (const name of names) {
    // A name that is a digest (sha512 as sha256): oci:DIR:DIGEST names the image of that digest everywhere else (copy, delete).
    if (isDigest(name)) throw usageError(`"${name}": a digest, not a name for an image in a layout`);
    if (!isLayoutRefName(name)) throw usageError(`"${name}": not a name for an image in a layout (letters and digits, joined by - . _ : @ + or /)`);
  }
  const root = await withLayout(target, async (layout, root) => {
    for (const name of names) await layout.tag(root, name);
    return root;
  });
  out.info(`tagged ${target.text} (${root.digest}) as ${names.map((n) => `oci:${target.path}:${n}`).join(', ')}`);
  out.result(root.digest, { reference: target.text, digest: root.digest, tags: names });
}

import type { Argv } from 'yargs';
import { toArray, usageError, type CliCommand } from './command.js';
import type { Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import type { LayoutTarget } from './repository-ref.js';

interface UntagArgs extends RegistryFlags {
  references: string[];
}

export const untagCommand: CliCommand<UntagArgs> = {
  command: 'untag <references..>',
  describe: 'Take tags away and keep the images they named (by digest and under their other tags), as regctl tag delete and podman untag',
  builder: (y: Argv) => registryFlags(y
    .positional('references', { type: 'string', array: true, describe: 'REGISTRY/REPOSITORY:TAG, or oci:DIR:NAME (a name in the layout, as umoci rm)' })
    .example('$0 untag localhost:5000/app:pr-123', 'the tag goes; app:main on the same image stays (delete would take both)')
    .example('$0 untag oci:out:old', 'the name old leaves the layout; the image\'s other names stay')),
  run: async (argv, out: Output) => {
    const { layoutTarget, registryReference, withRepository } = await import('./repository-ref.js');
    const { isDigest } = await import('../oci/digest.js');
    const references = toArray(argv.references);
    // All of them checked before any is taken away.
    const targets: Array<{ text: string; layout?: LayoutTarget; registry?: import('../oci/reference.js').Reference }> = [];
    for (const text of references) {
      const layout = await layoutTarget(text, 'untag');
      if (layout) {
        if (layout.name === undefined || isDigest(layout.name)) throw usageError(`${text}: name the image's name to take away (oci:DIR:NAME); delete ${text} removes an image by digest`);
        targets.push({ text, layout });
        continue;
      }
      const ref = await registryReference(text);
      if (ref.digest || !ref.tag) throw usageError(`${text}: untag takes a tag away (REGISTRY/REPOSITORY:TAG); delete ${text} removes a manifest by digest`);
      targets.push({ text, registry: ref });
    }
    // The same name twice is one tag to take, not a failure.
    const unique = targets.filter((t, i) => targets.findIndex((other) => other.text === t.text) === i);
    // Each tag is there before the first goes: a mistyped one later in the list must not leave the
    // earlier ones already taken away.
    for (const target of unique) {
      if (target.layout) await layoutDigest(target.layout);
      else await withRepository(target.registry!, argv, (repository) => repository.resolve(target.registry!.tag!));
    }
    const results: Array<{ reference: string; untagged: string; digest: string; method: string }> = [];
    for (const target of unique) {
      const result = target.layout ? await untagInLayout(target.layout) : await untagRegistryTag(target.registry!, argv);
      const how = result.method === 'layout' ? '' : `; the image stays${result.method === 'placeholder' ? ', the tag taken away through a placeholder manifest' : ''}`;
      out.info(`untagged ${result.untagged} (${result.digest}${how})`);
      results.push({ reference: target.text, ...result });
    }
    out.result(results.map((r) => r.untagged).join('\n'), { untagged: results });
  },
};

/** The digest the name names in the layout, or one line saying it names none. */
async function layoutDigest(target: LayoutTarget): Promise<string> {
  const { Annotation } = await import('../oci/descriptor.js');
  const { OciLayout } = await import('../content/layout.js');
  const layout = await OciLayout.open(target.path);
  try {
    const named = (await layout.readIndex()).manifests.find((d) => d.annotations?.[Annotation.RefName] === target.name);
    if (!named) throw usageError(`${target.text}: no image of that name in ${target.path}`);
    return named.digest;
  } finally {
    await layout.close();
  }
}

async function untagRegistryTag(ref: import('../oci/reference.js').Reference, flags: RegistryFlags): Promise<{ untagged: string; digest: string; method: string }> {
  const { withRepository } = await import('./repository-ref.js');
  const { untagInRegistry } = await import('../registry/untag.js');
  const { untagged, method } = await withRepository(ref, flags, (repository) => untagInRegistry(repository, ref.tag!));
  return { untagged: `${ref.registry}/${ref.repository}:${ref.tag}`, digest: untagged.digest, method };
}

/** As umoci rm: only that name leaves index.json; the image, its other names and its blobs stay. */
async function untagInLayout(target: LayoutTarget): Promise<{ untagged: string; digest: string; method: string }> {
  const { Annotation } = await import('../oci/descriptor.js');
  const { OciLayout } = await import('../content/layout.js');
  const layout = await OciLayout.open(target.path);
  try {
    let digest: string | undefined;
    await layout.updateIndex((index) => {
      const named = index.manifests.filter((d) => d.annotations?.[Annotation.RefName] === target.name);
      if (named.length === 0) throw usageError(`${target.text}: no image of that name in ${target.path}`);
      digest = named[0]!.digest;
      index.manifests = index.manifests.filter((d) => d.annotations?.[Annotation.RefName] !== target.name);
    });
    return { untagged: `oci:${target.path}:${target.name}`, digest: digest!, method: 'layout' };
  } finally {
    await layout.close();
  }
}

import type { Argv } from 'yargs';
import type { CliCommand } from './command.js';
import { escapeControl, type Output } from './output.js';
import { registryFlags, type RegistryFlags } from './registry-options.js';
import type { Descriptor } from '../oci/descriptor.js';
import type { LayoutTarget } from './repository-ref.js';

interface ReferrersArgs extends RegistryFlags {
  reference: string;
  artifactType?: string;
}

export const referrersCommand: CliCommand<ReferrersArgs> = {
  command: 'referrers <reference>',
  describe: 'List the artifacts that refer to an image (OCI 1.1 referrers API, or the referrers tag schema)',
  builder: (y: Argv) => registryFlags(y
    .positional('reference', { type: 'string', describe: 'The image: [docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST], or oci:DIR[:NAME] (a layout)' })
    .option('artifact-type', { type: 'string', describe: 'Only artifacts of this type' })
    .example('$0 referrers localhost:5000/app:1 --json', 'digest, artifactType and annotations of each referrer')),
  run: async (argv, out: Output) => {
    const { layoutTarget } = await import('./repository-ref.js');
    const inLayout = await layoutTarget(argv.reference, 'referrers');
    if (inLayout) return listInLayout(inLayout, argv.artifactType, out);
    const { parseReference, referenceTarget } = await import('../oci/reference.js');
    const { stripTransport } = await import('./registry-options.js');
    const source = parseReference(stripTransport(argv.reference));
    const { clientFromFlags } = await import('./registry-options.js');
    const { Repository } = await import('../registry/repository.js');
    const { listReferrers } = await import('../registry/referrers.js');
    const client = await clientFromFlags(source.registry, argv);
    let list;
    let subject;
    try {
      const repo = new Repository(client, source.repository);
      subject = await repo.resolveToRead(referenceTarget(source));
      list = await listReferrers(client, source.repository, subject.digest, { artifactType: argv.artifactType });
      await client.close();
    } catch (err) {
      await client.destroy();
      throw err;
    }
    report(out, `${source.registry}/${source.repository}@${subject.digest} (${list.via === 'api' ? 'referrers API' : 'referrers tag schema'})`, subject.digest, list.via, list.manifests);
  },
};

/** The referrers a layout lists (index.json entries with an artifactType whose manifest names the subject), annotations read from each manifest as the referrers API gives them. */
async function listInLayout(target: LayoutTarget, artifactType: string | undefined, out: Output): Promise<void> {
  const { withLayout } = await import('./repository-ref.js');
  const { listLayoutReferrers } = await import('../content/layout-referrers.js');
  await withLayout(target, async (layout, subject) => {
    report(out, `${target.text} (${subject.digest}) in the layout ${layout.root}`, subject.digest, 'layout', await listLayoutReferrers(layout, subject, artifactType));
  });
}

function report(out: Output, what: string, subject: string, via: string, manifests: readonly Descriptor[]): void {
  const lines = manifests.map((m) => {
    const notes = Object.entries(m.annotations ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
    // One referrer a line, whatever its annotations hold (a multi-line description): a newline is shown as \n.
    return escapeControl(`${m.digest} ${m.artifactType ?? '-'}${notes ? ` ${notes}` : ''}`);
  });
  out.info(`${manifests.length} referrer${manifests.length === 1 ? '' : 's'} of ${what}`);
  if (lines.length > 0 || out.json) out.data(lines.join('\n'), { subject, via, manifests });
}

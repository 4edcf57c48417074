import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measure, type Measured } from './measure.js';
import type { Recorder } from './pushes.js';
import { formatValue } from './report.js';
import type { OcipushCli } from './steps.js';
import { imageInfo } from './tools.js';

/**
 * `ocipush build -f` of the bench's tree: a Dockerfile that COPYs the whole tree (the context) in
 * one layer, built cold into a fresh layout, then at once again, unchanged, into the same layout,
 * where the layer cache must serve the COPY layer. Samples `ocipush-build-f` and
 * `ocipush-build-f-rebuild`; returns whether the rebuild gave the cold build's layers.
 */
export async function timeDockerfileBuilds(o: OcipushCli, context: string, dir: string, tag: string, env: NodeJS.ProcessEnv, label: string, rec: Recorder): Promise<boolean> {
  // Beside the layouts, not in the context: the fixture stays as it was made.
  const dockerfile = join(dir, 'bench.Dockerfile');
  writeFileSync(dockerfile, 'FROM scratch\nCOPY . /srv/tree/\n');
  const layout = join(dir, 'dockerfile-layout');
  const args = [o.cli, 'build', '-f', dockerfile, context, '--layout', layout, '--tag', tag, '--json'];
  if (o.compression) args.push('--compression', o.compression);
  const timed = (what: string): Promise<Measured> => measure(o.node, args, { env, usage: true, label: `${label}: ocipush build -f (${what})` });
  try {
    const cold = await timed('cold');
    const coldLayers = (await imageInfo(layout, tag)).layers.map((l) => l.digest).join();
    rec.add('ocipush-build-f', { seconds: cold.seconds, maxRssBytes: cold.maxRssBytes, cpuSeconds: cold.cpuSeconds });
    const again = await timed('unchanged context');
    const same = (await imageInfo(layout, tag)).layers.map((l) => l.digest).join() === coldLayers;
    rec.add('ocipush-build-f-rebuild', { seconds: again.seconds, maxRssBytes: again.maxRssBytes, cpuSeconds: again.cpuSeconds });
    rec.log(`${label}: ocipush build -f ${formatValue(cold.seconds, 's')} (cpu ${formatValue(cold.cpuSeconds, 's')}), again unchanged ${formatValue(again.seconds, 's')} (cpu ${formatValue(again.cpuSeconds, 's')})${same ? '' : ', LAYER DIFFERS from the cold build'}`);
    return same;
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}

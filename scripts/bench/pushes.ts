import { startRegistry } from '../../test/support/registry.js';
import { relay as startRelay } from '../../test/support/relay.js';
import type { Measured } from './measure.js';
import { formatValue } from './report.js';
import { ocipushCopy, ocipushLabel, ocipushMirror, ocipushPush, pushedDigest, skopeoCopy, skopeoPush, skopeoSync, type OcipushCli } from './steps.js';

/** The registry side of the bench: pushes of a layout and registry-to-registry copies, ocipush beside skopeo. */

export interface Recorder {
  add(name: string, sample: { seconds: number; maxRssBytes?: number | null; cpuSeconds?: number | null }): void;
  log(line: string): void;
}

type Timed = Pick<Measured, 'seconds' | 'maxRssBytes' | 'cpuSeconds'>;

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * For each tool, in an order that rotates with `iteration`: a fresh registry (a cold push to a
 * registry already holding the blobs under another repository name could mount them instead of
 * uploading), the cold push, then the same push again (every blob there). After each push the
 * registry is asked for the manifest, so a push that did not land is an error. Samples are named
 * `${prefix}${tool}-push-cold` and `-warm`; returns the digests ocipush's cold pushes left.
 */
export async function timePushes(opts: {
  ocipush: OcipushCli | null; layout: string; tag: string; iteration: number; prefix: string; label: string; rec: Recorder;
  /** Push through a relay that adds this round-trip time (test/support/relay.ts); the check reads the registry directly. */
  rttMs?: number;
}): Promise<string | null> {
  const { ocipush, layout, tag, iteration, prefix, label, rec } = opts;
  const pushers: Array<{ name: string; push: (ref: string, what: string) => Promise<Timed> }> = [];
  if (ocipush) pushers.push({ name: 'ocipush', push: (ref, what) => ocipushPush(ocipush, layout, tag, ref, what) });
  pushers.push({ name: 'skopeo', push: (ref, what) => skopeoPush(layout, tag, ref, what) });
  let ocipushDigest: string | null = null;
  for (const { name, push } of rotate(pushers, iteration - 1)) {
    const registry = await startRegistry();
    const relay = opts.rttMs ? await startRelay('127.0.0.1', registry.port, { rttMs: opts.rttMs }) : undefined;
    try {
      const repo = `bench/${name}-${iteration}`;
      const ref = `${relay?.host ?? registry.host}/${repo}:${tag}`;
      for (const phase of ['cold', 'warm'] as const) {
        const m = await push(ref, `${label}: ${name} push (${phase})`);
        const digest = await pushedDigest(registry.host, repo, tag);
        if (name === 'ocipush' && phase === 'cold') ocipushDigest = digest;
        rec.add(`${prefix}${name}-push-${phase}`, m);
        rec.log(`${label}: ${name} push ${phase} ${formatValue(m.seconds, 's')} (cpu ${formatValue(m.cpuSeconds, 's')}), peak ${formatValue(m.maxRssBytes, 'bytes')}`);
      }
    } finally {
      await relay?.close();
      await registry.stop();
    }
  }
  return ocipushDigest;
}

/**
 * Registry to registry: skopeo puts the layout into a source registry (not timed), then each tool
 * copies it from there into a fresh registry of its own. Samples `copy-ocipush`, `copy-skopeo`.
 */
export async function timeCopies(opts: {
  ocipush: OcipushCli | null; layout: string; tag: string; iteration: number; label: string; rec: Recorder;
}): Promise<void> {
  const { ocipush, layout, tag, iteration, label, rec } = opts;
  const source = await startRegistry();
  try {
    const from = `${source.host}/bench/source:${tag}`;
    await skopeoPush(layout, tag, from, `${label}: fill the copy source`);
    const copiers: Array<{ name: string; copy: (to: string, what: string) => Promise<Timed> }> = [];
    if (ocipush) copiers.push({ name: 'ocipush', copy: (to, what) => ocipushCopy(ocipush, from, to, what) });
    copiers.push({ name: 'skopeo', copy: (to, what) => skopeoCopy(from, to, what) });
    for (const { name, copy } of rotate(copiers, iteration - 1)) {
      const dest = await startRegistry();
      try {
        const m = await copy(`${dest.host}/bench/copy:${tag}`, `${label}: ${name} copy`);
        await pushedDigest(dest.host, 'bench/copy', tag);
        rec.add(`copy-${name}`, m);
        rec.log(`${label}: ${name} copy registry → registry ${formatValue(m.seconds, 's')} (cpu ${formatValue(m.cpuSeconds, 's')}), peak ${formatValue(m.maxRssBytes, 'bytes')}`);
      } finally {
        await dest.stop();
      }
    }
  } finally {
    await source.stop();
  }
}

/**
 * A repository mirrored, every tag, across a network: `tags` images that share their layers (the
 * small image, each tag a new config from `mutate --label`, as the tags of one application are)
 * in a source registry, then each tool copies the whole repository through relays adding
 * `rttMs` of round trip into a fresh registry of its own: `ocipush copy --all-tags` beside
 * `skopeo sync`. Every tag is checked there after. Samples `mirror-ocipush`, `mirror-skopeo`.
 */
export async function timeMirrors(opts: {
  ocipush: OcipushCli; withOcipush: boolean; layout: string; tag: string; tags: number; rttMs: number; iteration: number; label: string; rec: Recorder;
}): Promise<void> {
  const { ocipush, layout, tag, tags, rttMs, iteration, label, rec } = opts;
  const source = await startRegistry();
  const sourceLink = await startRelay('127.0.0.1', source.port, { rttMs });
  try {
    const repo = `${source.host}/bench/mirror`;
    await skopeoPush(layout, tag, `${repo}:v0`, `${label}: fill the mirror source`);
    for (let t = 1; t < tags; t++) await ocipushLabel(ocipush, `${repo}:v0`, `${repo}:v${t}`, `${label}: tag v${t} of the mirror source`, String(t));
    const from = `${sourceLink.host}/bench/mirror`;
    const mirrors: Array<{ name: string; mirror: (toHost: string, what: string) => Promise<Timed> }> = [];
    if (opts.withOcipush) mirrors.push({ name: 'ocipush', mirror: (toHost, what) => ocipushMirror(ocipush, from, `${toHost}/bench/mirror`, what) });
    mirrors.push({ name: 'skopeo', mirror: (toHost, what) => skopeoSync(from, `${toHost}/bench`, what) });
    for (const { name, mirror } of rotate(mirrors, iteration - 1)) {
      const dest = await startRegistry();
      const destLink = await startRelay('127.0.0.1', dest.port, { rttMs });
      try {
        const m = await mirror(destLink.host, `${label}: ${name} mirror`);
        for (let t = 0; t < tags; t++) await pushedDigest(dest.host, 'bench/mirror', `v${t}`);
        rec.add(`mirror-${name}`, m);
        rec.log(`${label}: ${name} mirror of ${tags} tags, ${rttMs} ms RTT ${formatValue(m.seconds, 's')} (cpu ${formatValue(m.cpuSeconds, 's')}), peak ${formatValue(m.maxRssBytes, 'bytes')}`);
      } finally {
        await destLink.close();
        await dest.stop();
      }
    }
  } finally {
    await sourceLink.close();
    await source.stop();
  }
}

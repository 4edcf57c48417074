import type { ContainerConfig, Healthcheck, HistoryEntry, ImageConfig } from '../oci/manifest.js';
import { DEFAULT_PATH } from './dispatch.js';
import { goDuration, goList, goQuoteList } from './go-format.js';
import type { ResolvedInstruction, ResolvedStage } from './resolve-types.js';

/**
 * The image config and history docker build (BuildKit's dockerfile2llb) gives a stage, folded
 * from its resolved instructions. Pure: the builder supplies the base image's config and adds
 * layers for the steps marked `layer`.
 *
 * What BuildKit does, and this mirrors:
 * - FROM scratch starts from `WorkingDir: "/"` and `Env: ["PATH=…"]`; FROM an image starts from
 *   its config (history kept, `created` dropped); FROM a stage from that stage's image, with
 *   OnBuild cleared (triggers never carry over).
 * - Every instruction but ONBUILD adds a history entry with comment `buildkit.dockerfile.v0`;
 *   COPY/ADD and WORKDIR (unless `/`) make a layer, the others are `empty_layer: true`.
 *   `created_by` is written with Go's fmt: `CMD ["a" "b"]` (%q), `VOLUME [/a /b]` (%v),
 *   `HEALTHCHECK {Test:[…] Interval:30s …}` (%+v), and `COPY … # buildkit` for file steps.
 * - CMD sets `ArgsEscaped: true`; ENTRYPOINT drops a Cmd inherited from the base unless the
 *   stage itself set CMD; LABEL, EXPOSE and VOLUME add to the inherited ones.
 */

const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

/** The parts of an image BuildKit carries from stage to stage. */
export interface DockerImage {
  author?: string;
  config: ContainerConfig;
  history: HistoryEntry[];
}

/** One instruction's mark in the history: what it records and whether it makes a layer. */
export interface HistoryStep {
  instruction: ResolvedInstruction;
  createdBy: string;
  layer: boolean;
}

/** What FROM scratch starts from. */
export function scratchImage(): DockerImage {
  return { config: { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' }, history: [] };
}

/**
 * What FROM <image> starts from: the image's author, run config and history. A history that
 * accounts for fewer layers than the image has is padded at the front, as BuildKit's exporter
 * does, so that history and layers still line up.
 */
export function imageOf(config: ImageConfig): DockerImage {
  const history = structuredClone(config.history ?? []);
  const missing = config.rootfs.diff_ids.length - history.filter((h) => !h.empty_layer).length;
  const padding: HistoryEntry[] = Array.from({ length: Math.max(0, missing) }, () => (config.created ? { created: config.created } : {}));
  return {
    ...(config.author ? { author: config.author } : {}),
    config: structuredClone(config.config ?? {}),
    history: [...padding, ...history],
  };
}

/** The history text and layer flag of an instruction; undefined for ONBUILD (BuildKit records none). */
function historyStep(instruction: ResolvedInstruction): HistoryStep | undefined {
  const step = (createdBy: string, layer = false): HistoryStep => ({ instruction, createdBy, layer });
  switch (instruction.keyword) {
    case 'ENV':
      return step(['ENV', ...instruction.pairs.map((p) => `${p.key}=${p.value}`)].join(' '));
    case 'LABEL':
      return step(['LABEL', ...instruction.pairs.map((p) => `${p.key}=${p.value}`)].join(' '));
    case 'ARG':
      return step(`ARG ${instruction.args.map((a) => (a.value === undefined ? a.key : `${a.key}=${a.value}`)).join(' ')}`);
    case 'WORKDIR':
      return step(`WORKDIR ${instruction.absolutePath}`, instruction.absolutePath !== '/');
    case 'USER':
      return step(`USER ${instruction.user}`);
    case 'VOLUME':
      return step(`VOLUME ${goList(instruction.volumes)}`);
    case 'STOPSIGNAL':
      return step(`STOPSIGNAL ${instruction.signal}`);
    case 'EXPOSE':
      return step(`EXPOSE ${goList(instruction.ports)}`);
    case 'SHELL':
      return step(`SHELL ${goList(instruction.shell)}`);
    case 'CMD':
    case 'ENTRYPOINT':
      return step(`${instruction.keyword} ${goQuoteList(instruction.exec)}`);
    case 'HEALTHCHECK': {
      const h = instruction;
      return step(`HEALTHCHECK {Test:${goList(h.test)} Interval:${goDuration(h.interval)} Timeout:${goDuration(h.timeout)} StartPeriod:${goDuration(h.startPeriod)} StartInterval:${goDuration(h.startInterval)} Retries:${h.retries}}`);
    }
    case 'MAINTAINER':
      return step(`MAINTAINER ${instruction.maintainer}`);
    case 'COPY':
    case 'ADD': {
      const parts: string[] = [instruction.keyword];
      if (instruction.keyword === 'COPY' && instruction.parents) parts.push('--parents');
      if (instruction.chown !== undefined) parts.push(`--chown=${instruction.chown}`);
      if (instruction.chmod !== undefined) parts.push(`--chmod=${instruction.chmod}`);
      parts.push(...instruction.sources, ...instruction.heredocs.map((h) => `<<${h.name}`), instruction.dest);
      return step(`${parts.join(' ')} # buildkit`, true);
    }
    case 'RUN':
      return step(`RUN ${instruction.args.join(' ')} # buildkit`, true);
    case 'ONBUILD':
      return undefined;
  }
}

/**
 * Folds a stage's instructions onto the image it starts from. `start` is scratchImage(),
 * imageOf(base config) or the result for the base stage; it is not modified. Env, WorkingDir,
 * User and Shell come from the resolved stage (the resolver tracked them for expansion).
 */
export function foldStage(start: DockerImage, stage: ResolvedStage, created: string): { image: DockerImage; steps: HistoryStep[] } {
  const c: ContainerConfig = structuredClone(start.config);
  delete c.OnBuild;
  let author = start.author;
  const history: HistoryEntry[] = structuredClone(start.history);
  const steps: HistoryStep[] = [];
  const onBuild: string[] = [];
  let cmdSet = false;
  for (const instruction of stage.instructions) {
    switch (instruction.keyword) {
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}) };
        for (const p of instruction.pairs) c.Labels[p.key] = p.value;
        break;
      case 'EXPOSE':
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        for (const p of instruction.ports) c.ExposedPorts[p] = {};
        break;
      case 'VOLUME':
        c.Volumes = { ...(c.Volumes ?? {}) };
        for (const v of instruction.volumes) c.Volumes[v] = {};
        break;
      case 'CMD':
        c.Cmd = [...instruction.exec];
        c.ArgsEscaped = true;
        cmdSet = true;
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = [...instruction.exec];
        if (!cmdSet) delete c.Cmd;
        break;
      case 'STOPSIGNAL':
        c.StopSignal = instruction.signal;
        break;
      case 'HEALTHCHECK': {
        const h: Healthcheck = { Test: [...instruction.test] };
        if (instruction.interval) h.Interval = instruction.interval;
        if (instruction.timeout) h.Timeout = instruction.timeout;
        if (instruction.startPeriod) h.StartPeriod = instruction.startPeriod;
        if (instruction.startInterval) h.StartInterval = instruction.startInterval;
        if (instruction.retries) h.Retries = instruction.retries;
        c.Healthcheck = h;
        break;
      }
      case 'MAINTAINER':
        author = instruction.maintainer;
        break;
      case 'ONBUILD':
        onBuild.push(instruction.expression);
        break;
    }
    const step = historyStep(instruction);
    if (step) {
      steps.push(step);
      history.push({ created, created_by: step.createdBy, comment: HISTORY_COMMENT, ...(step.layer ? {} : { empty_layer: true }) });
    }
  }
  c.Env = [...stage.env];
  if (stage.workingDir !== '') c.WorkingDir = stage.workingDir;
  if (stage.user !== '') c.User = stage.user;
  else delete c.User;
  if (stage.shell.length > 0) c.Shell = [...stage.shell];
  else delete c.Shell;
  if (onBuild.length > 0) c.OnBuild = onBuild;
  return { image: { ...(author ? { author } : {}), config: c, history }, steps };
}

/**
 * The run config as Go marshals BuildKit's image config: fields in struct order, empty ones
 * left out (omitempty), map keys sorted.
 */
export function orderedContainerConfig(c: ContainerConfig): ContainerConfig {
  const out: ContainerConfig = {};
  const sortedKeys = <T>(o: Record<string, T> | undefined): Record<string, T> | undefined => {
    if (!o || Object.keys(o).length === 0) return undefined;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
  };
  if (c.User) out.User = c.User;
  const ports = sortedKeys(c.ExposedPorts);
  if (ports) out.ExposedPorts = ports;
  if (c.Env && c.Env.length > 0) out.Env = c.Env;
  if (c.Entrypoint && c.Entrypoint.length > 0) out.Entrypoint = c.Entrypoint;
  if (c.Cmd && c.Cmd.length > 0) out.Cmd = c.Cmd;
  const volumes = sortedKeys(c.Volumes);
  if (volumes) out.Volumes = volumes;
  if (c.WorkingDir) out.WorkingDir = c.WorkingDir;
  const labels = sortedKeys(c.Labels);
  if (labels) out.Labels = labels;
  if (c.StopSignal) out.StopSignal = c.StopSignal;
  if (c.ArgsEscaped) out.ArgsEscaped = true;
  if (c.Healthcheck) out.Healthcheck = c.Healthcheck;
  if (c.OnBuild && c.OnBuild.length > 0) out.OnBuild = c.OnBuild;
  if (c.Shell && c.Shell.length > 0) out.Shell = c.Shell;
  return out;
}

import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool, run } from '../support/tools.js';

export const HELLO_C = '#include <stdio.h>\n\nint main(void) {\n    printf("hello world\\n");\n    return 0;\n}\n';

/** Compiles a static hello-world binary into `dir/hello`; returns its path. */
export function buildStaticHello(dir: string): string {
  requireTool('gcc');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hello.c'), HELLO_C);
  const out = join(dir, 'hello');
  run('gcc', ['-static', '-O2', '-o', out, join(dir, 'hello.c')]);
  return out;
}

/** A statically linked busybox (Debian's busybox-static), which runs in an empty rootfs. */
export function staticBusybox(): string {
  const path = requireTool('busybox');
  const ldd = (() => {
    try { return run('ldd', [path]); } catch (err) { return String((err as Error).message); }
  })();
  if (!/not a dynamic executable|statically linked/.test(ldd)) {
    throw new Error(`${path} is dynamically linked: install busybox-static`);
  }
  return path;
}

export interface HelloLayout {
  layout: string;
  hello: string;
}

/**
 * The hand-made example of the docs, built with umoci (until `ocipush build` makes layouts):
 * `scratch` = one layer with /hello; `alpine` = a busybox layer (/bin/sh) under the very same
 * hello layer, so the two images share a blob. umoci names images with bare tags.
 */
export function makeHelloLayout(dir: string): HelloLayout {
  requireTool('umoci');
  const hello = buildStaticHello(join(dir, 'src'));
  const helloRoot = join(dir, 'rootfs-hello');
  const shRoot = join(dir, 'rootfs-sh');
  mkdirSync(helloRoot, { recursive: true });
  mkdirSync(join(shRoot, 'bin'), { recursive: true });
  copyFileSync(hello, join(helloRoot, 'hello'));
  copyFileSync(staticBusybox(), join(shRoot, 'bin', 'sh'));
  run('chmod', ['0755', join(helloRoot, 'hello'), join(shRoot, 'bin', 'sh')]);
  const layout = join(dir, 'layout');
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', `${layout}:scratch`]);
  run('umoci', ['insert', '--image', `${layout}:scratch`, helloRoot, '/']);
  run('umoci', ['config', '--image', `${layout}:scratch`, '--config.entrypoint', '/hello']);
  run('umoci', ['new', '--image', `${layout}:alpine`]);
  run('umoci', ['insert', '--image', `${layout}:alpine`, shRoot, '/']);
  run('umoci', ['insert', '--image', `${layout}:alpine`, helloRoot, '/']);
  run('umoci', ['config', '--image', `${layout}:alpine`, '--config.entrypoint', '/hello']);
  return { layout, hello };
}

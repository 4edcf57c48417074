import { after, before, beforeEach } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { tempDir } from '../support/tools.js';
import { assertOk, runCliAsync } from '../cli/registry-support.js';
import { umociImage, type UmociImage } from './support.js';

/** What a describe about one registry fault works with, filled in by its `before`. */
export interface ProxiedRegistry {
  registry: RunningRegistry;
  /** In front of the registry: the faults a test adds, the requests it saw. */
  proxy: FaultProxy;
  tmp: { path: string; cleanup: () => Promise<void> };
  /** A small image made by umoci (tag `v1`), pushed straight to the registry when asked. */
  image: UmociImage;
}

/**
 * The real registry behind a fault proxy, a temp directory and an image of `layerSizes`, started
 * before the tests of the describe that calls this and stopped after them; each test starts with
 * no fault and an empty request log. With `pushTo` (a repository:tag), the image is in the
 * registry already.
 */
export function proxiedRegistry(layerSizes: number[], pushTo?: string): ProxiedRegistry {
  const fixture = {} as ProxiedRegistry;
  before(async () => {
    fixture.tmp = await tempDir();
    fixture.registry = await startRegistry();
    fixture.proxy = await startFaultProxy({ target: fixture.registry.url });
    fixture.image = umociImage(fixture.tmp.path, 'v1', layerSizes);
    if (pushTo !== undefined) assertOk(await runCliAsync(['push', `oci:${fixture.image.layout}:v1`, `${fixture.registry.host}/${pushTo}`]));
  });
  after(async () => {
    await fixture.proxy?.stop();
    await fixture.registry?.stop();
    await fixture.tmp?.cleanup();
  });
  beforeEach(() => {
    fixture.proxy?.clearFaults();
    fixture.proxy?.clearRequests();
  });
  return fixture;
}

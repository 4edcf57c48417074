import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convertLayer, layerMediaTypeIn, mergeContainerConfig } from '../../src/assemble/compose.js';
import { removalSet, whiteoutName } from '../../src/layer/whiteout.js';
import { MediaType } from '../../src/oci/media-types.js';
import type { Descriptor } from '../../src/oci/descriptor.js';

describe('config inherited from a base image', () => {
  const base = {
    Env: ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8'],
    Entrypoint: ['/docker-entrypoint.sh'],
    Cmd: ['nginx', '-g', 'daemon off;'],
    WorkingDir: '/srv',
    User: '101',
    ExposedPorts: { '80/tcp': {} },
    Labels: { maintainer: 'base', version: '1' },
    StopSignal: 'SIGQUIT',
  } as const;

  it('keeps everything when no flag is given', () => {
    assert.deepEqual(mergeContainerConfig(structuredClone(base) as never, {}), base);
  });

  it('--env replaces a variable in place and appends new ones, in flag order', () => {
    const c = mergeContainerConfig(structuredClone(base) as never, { env: ['LANG=en_US.UTF-8', 'B=2', 'A=1'] });
    assert.deepEqual(c.Env, ['PATH=/usr/bin:/bin', 'LANG=en_US.UTF-8', 'B=2', 'A=1']);
  });

  it('--entrypoint resets the inherited Cmd, unless --cmd is given too (as a Dockerfile ENTRYPOINT does)', () => {
    const reset = mergeContainerConfig(structuredClone(base) as never, { entrypoint: ['/app/run'] });
    assert.deepEqual(reset.Entrypoint, ['/app/run']);
    assert.equal('Cmd' in reset, false);
    const both = mergeContainerConfig(structuredClone(base) as never, { entrypoint: ['/app/run'], cmd: ['--serve'] });
    assert.deepEqual(both.Cmd, ['--serve']);
    const cmdOnly = mergeContainerConfig(structuredClone(base) as never, { cmd: ['sh'] });
    assert.deepEqual(cmdOnly.Entrypoint, ['/docker-entrypoint.sh']);
    assert.deepEqual(cmdOnly.Cmd, ['sh']);
  });

  it('labels and ports merge (the flag wins), workdir and user are replaced, the rest is kept', () => {
    const c = mergeContainerConfig(structuredClone(base) as never, {
      labels: { version: '2', app: 'x' }, expose: ['8080', '53/udp', '80'], workdir: '/app', user: '0:0',
    });
    assert.deepEqual(c.Labels, { app: 'x', maintainer: 'base', version: '2' });
    assert.deepEqual(Object.keys(c.Labels!), ['app', 'maintainer', 'version']);
    assert.deepEqual(c.ExposedPorts, { '53/udp': {}, '80/tcp': {}, '8080/tcp': {} });
    assert.equal(c.WorkingDir, '/app');
    assert.equal(c.User, '0:0');
    assert.equal(c.StopSignal, 'SIGQUIT');
  });

  it('checks the flags as a build without a base does', () => {
    assert.throws(() => mergeContainerConfig({}, { expose: ['99999'] }), /--expose "99999"/);
    assert.throws(() => mergeContainerConfig({}, { env: ['NOEQUALS'] }), /--env "NOEQUALS"/);
  });
});

describe('layer media types in one family', () => {
  const layer = (mediaType: string): Descriptor => ({ mediaType, digest: `sha256:${'a'.repeat(64)}`, size: 1 });

  it('Docker layers become OCI layers with the same digest, and back', () => {
    assert.equal(convertLayer(layer(MediaType.DockerLayerGzip), 'oci').mediaType, MediaType.OciLayerGzip);
    assert.equal(convertLayer(layer('application/vnd.docker.image.rootfs.diff.tar'), 'oci').mediaType, MediaType.OciLayer);
    assert.equal(convertLayer(layer(MediaType.OciLayerGzip), 'docker').mediaType, MediaType.DockerLayerGzip);
    assert.equal(convertLayer(layer(MediaType.OciLayer), 'docker').mediaType, 'application/vnd.docker.image.rootfs.diff.tar');
    assert.equal(convertLayer(layer(MediaType.DockerForeignLayerGzip), 'oci').mediaType, 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip');
    assert.equal(convertLayer(layer('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip'), 'docker').mediaType, MediaType.DockerForeignLayerGzip);
    const same = layer(MediaType.OciLayerGzip);
    assert.equal(convertLayer(same, 'oci'), same);
  });

  it('zstd has no Docker name: refused with a way out', () => {
    assert.throws(() => layerMediaTypeIn(MediaType.OciLayerZstd, 'docker'), /zstd-compressed.*--format oci, or --compression gzip/);
  });
});

describe('--remove paths', () => {
  it('become whiteouts beside the removed name', () => {
    assert.equal(whiteoutName('etc/motd'), 'etc/.wh.motd');
    assert.equal(whiteoutName('opt'), '.wh.opt');
  });

  it('are cleaned, deduplicated, sorted, and covered by a removed parent', () => {
    assert.deepEqual(removalSet(['/usr/share/doc/', 'etc//motd', '/usr/share/doc/x', './tmp', 'etc/motd']), ['etc/motd', 'tmp', 'usr/share/doc']);
  });

  it('refuse the root, .. and whiteout names', () => {
    assert.throws(() => removalSet(['/']), /--remove "\/": names the root directory/);
    assert.throws(() => removalSet(['/etc/../bin']), /must not contain \.\./);
    assert.throws(() => removalSet(['/etc/.wh.x']), /is a whiteout itself/);
  });
});

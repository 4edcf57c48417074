import assert from 'node:assert/strict';
import test from 'node:test';
import { finalStagePlatform } from '../../src/dockerfile/platform.js';

// The cases of dockerfile2llb's toDispatchState (BuildKit, Dockerfile frontend 1.15+), which
// test/dockerfile-exec/final-platform.test.ts checks end to end for arm64 and a
// FROM --platform=$BUILDPLATFORM stage.
test('the final stage platform keeps what BuildKit keeps of the base, and takes the target where BuildKit does', () => {
  const windows = { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2227', 'os.features': ['win32k', 'win32k'] };
  // Same os and architecture: the base's os.version stays; os.features are sorted and deduplicated.
  assert.deepEqual(finalStagePlatform(windows, { os: 'windows', architecture: 'amd64' }), { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2227', 'os.features': ['win32k'] });
  // Another os or architecture: the base's variant and os.version go, the target's are taken.
  assert.deepEqual(finalStagePlatform({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'amd64' }), { os: 'linux', architecture: 'amd64' });
  // The target's variant wins over the base's (an arm/v6 base built on for arm/v7); without one the base's stays.
  assert.deepEqual(finalStagePlatform({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm', variant: 'v7' }), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(finalStagePlatform({ os: 'linux', architecture: 'amd64', variant: 'v3' }, { os: 'linux', architecture: 'amd64' }), { os: 'linux', architecture: 'amd64', variant: 'v3' });
  // Normalized at the end, with or without a target: arm without a variant is arm/v7, arm64's v8 goes.
  assert.deepEqual(finalStagePlatform({ os: 'linux', architecture: 'arm' }, undefined), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(finalStagePlatform({ os: 'linux', architecture: 'aarch64', variant: 'v8' }, undefined), { os: 'linux', architecture: 'arm64' });
});

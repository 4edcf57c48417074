import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { CLI, REPO_ROOT, requireTool, run, tempDir } from '../support/tools.js';

/**
 * The CI examples run as their CI would run them, against a real registry that wants the job's
 * credentials: each shell step of examples/github-actions/image.yml and each script line of
 * examples/gitlab-ci/.gitlab-ci.yml, with the CI's variables and expressions filled in, one job
 * after the other, the digest handed on as the CI hands it (GITHUB_OUTPUT and job outputs;
 * a dotenv report). Only what needs the CI itself is left out: `uses:` actions and the
 * `npm install --global ocipush` line, for which `ocipush` on PATH is this checkout's.
 */

const USER = 'ci-user';
const TOKEN = 'ci-job-token-7f3a';
const SHA = '0123456789abcdef0123456789abcdef01234567';
let registry: RunningRegistry;
let tmp: { path: string; cleanup: () => Promise<void> };
let checkout: string;
let bin: string;

function yaml(file: string): any {
  const r = spawnSync('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `python3 yaml (apt-get install python3-yaml): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function bash(script: string, env: NodeJS.ProcessEnv): { stdout: string; stderr: string } {
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd: checkout, encoding: 'utf8', timeout: 120_000, env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...env },
  });
  assert.equal(r.status, 0, `step failed (exit ${r.status}):\n${script}\n${r.stdout}\n${r.stderr}`);
  assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN), 'the token never reaches output');
  return { stdout: r.stdout, stderr: r.stderr };
}

/** The manifest digest a tag has in the registry, asked with the CI user's credentials. */
async function remoteDigest(repository: string, tag: string): Promise<string | null> {
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { authorization: `Basic ${Buffer.from(`${USER}:${TOKEN}`).toString('base64')}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  return res.ok ? res.headers.get('docker-content-digest') : null;
}

before(async () => {
  requireTool('python3');
  requireTool('git');
  registry = await startRegistry({ auth: { htpasswd: { users: { [USER]: TOKEN } } } });
  tmp = await tempDir('ocipush-ci-examples-');
  bin = join(tmp.path, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'ocipush'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(join(bin, 'ocipush'), 0o755);
  checkout = join(tmp.path, 'checkout');
  mkdirSync(checkout);
  writeFileSync(join(checkout, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\nCMD ["/hello"]\n');
  writeFileSync(join(checkout, 'hello.txt'), 'hello from CI\n');
  run('git', ['init', '-q', checkout]);
  const gitEnv = ['-c', 'user.name=ci', '-c', 'user.email=ci@example.invalid'];
  spawnSync('git', [...gitEnv, 'add', '.'], { cwd: checkout });
  const c = spawnSync('git', [...gitEnv, 'commit', '-q', '-m', 'app'], { cwd: checkout, env: { ...process.env, GIT_COMMITTER_DATE: '2026-01-02T03:04:05Z', GIT_AUTHOR_DATE: '2026-01-02T03:04:05Z' } });
  assert.equal(c.status, 0, c.stderr?.toString());
});

after(async () => {
  await registry?.stop();
  await tmp?.cleanup();
});

test('examples/github-actions/image.yml: builds, pushes :<sha> and :latest with the job token on stdin, and the deploy job gets the digest', async () => {
  const workflow = yaml(join(REPO_ROOT, 'examples', 'github-actions', 'image.yml'));
  const context: Record<string, string> = { 'secrets.GITHUB_TOKEN': TOKEN, 'github.actor': USER, 'github.sha': SHA };
  const expand = (text: string) => text.replace(/\$\{\{\s*([\w.-]+)\s*\}\}/g, (_, expr: string) => {
    assert.ok(expr in context, `the test does not know \${{ ${expr} }}`);
    return context[expr]!;
  });
  const workflowEnv = { ...workflow.env, REGISTRY: registry.host, GITHUB_REPOSITORY: 'Team/App', GITHUB_SHA: SHA };

  const runJob = (name: string): Record<string, string> => {
    const job = workflow.jobs[name];
    let out = '';
    for (const step of job.steps as { id?: string; uses?: string; run?: string; env?: Record<string, string> }[]) {
      if (step.uses || step.id === 'install') continue;
      const outputFile = join(tmp.path, `github-output-${name}-${step.id}`);
      writeFileSync(outputFile, '');
      const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expand(String(v))]));
      out += bash(step.run!, { ...workflowEnv, ...env, GITHUB_OUTPUT: outputFile }).stdout;
      for (const line of readFileSync(outputFile, 'utf8').split('\n').filter(Boolean)) {
        const eq = line.indexOf('=');
        context[`steps.${step.id}.outputs.${line.slice(0, eq)}`] = line.slice(eq + 1);
      }
    }
    const outputs = Object.fromEntries(Object.entries(job.outputs ?? {}).map(([k, v]) => [k, expand(String(v))]));
    for (const [k, v] of Object.entries(outputs)) context[`needs.${name}.outputs.${k}`] = v;
    return { ...outputs, stdout: out };
  };

  const image = runJob('image');
  assert.equal(image.image, `${registry.host}/team/app`);
  assert.match(image.digest!, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await remoteDigest('team/app', SHA), image.digest);
  assert.equal(await remoteDigest('team/app', 'latest'), image.digest);
  const deploy = runJob('deploy');
  assert.equal(deploy.stdout!.trim(), `deploying ${registry.host}/team/app@${image.digest}`);
});

test('examples/gitlab-ci/.gitlab-ci.yml: builds, pushes :<short sha> and :latest with the job password on stdin, and the deploy job gets the digest', async () => {
  const pipeline = yaml(join(REPO_ROOT, 'examples', 'gitlab-ci', '.gitlab-ci.yml'));
  const variables: NodeJS.ProcessEnv = {
    CI_REGISTRY: registry.host, CI_REGISTRY_IMAGE: `${registry.host}/group/project`, CI_REGISTRY_USER: USER, CI_REGISTRY_PASSWORD: TOKEN,
    CI_COMMIT_SHA: SHA, CI_COMMIT_SHORT_SHA: SHA.slice(0, 8), CI_COMMIT_TIMESTAMP: '2026-01-02T03:04:05+00:00',
  };
  const runJob = (name: string): string => {
    const job = pipeline[name] as { script: string[]; before_script?: string[]; artifacts?: { reports?: { dotenv?: string } } };
    assert.deepEqual(job.before_script ?? [], name === 'image' ? ['npm install --global ocipush'] : []);
    const { stdout } = bash(job.script.join('\n'), variables);
    const dotenv = job.artifacts?.reports?.dotenv;
    if (dotenv) {
      for (const line of readFileSync(join(checkout, dotenv), 'utf8').split('\n').filter(Boolean)) {
        const eq = line.indexOf('=');
        variables[line.slice(0, eq)] = line.slice(eq + 1);
      }
    }
    return stdout;
  };
  assert.deepEqual(pipeline.deploy.needs, ['image']);
  runJob('image');
  const digest = variables.IMAGE_DIGEST!;
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await remoteDigest('group/project', SHA.slice(0, 8)), digest);
  assert.equal(await remoteDigest('group/project', 'latest'), digest);
  assert.equal(runJob('deploy').trim(), `deploying ${registry.host}/group/project@${digest}`);
});

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/tools.js';
import { buildCli, readImage, writeTree } from './support.js';

/**
 * BuildKit's build checks as `docker build` runs them (frontend/dockerfile/linter, read from the
 * source): the warnings, the `# check=` directive and the BUILDKIT_DOCKERFILE_CHECK build arg
 * that configure them (`skip=Rule,…`, `skip=all`, `error=true`), and the build that fails with
 * `lint violation found for rules: …` when `error=true` and a warning is left. buildah 1.28 has
 * no build checks: BuildKit's source is the reference here.
 */

let tmp: { path: string; cleanup: () => Promise<void> };
before(async () => {
  tmp = await tempDir('ocipush-df-lint-');
});
after(async () => {
  await tmp?.cleanup();
});

const warnings = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('ocipush: warning: ')).map((l) => l.slice('ocipush: warning: '.length));

let n = 0;
function context(dockerfile: string): { ctx: string; layout: string } {
  const ctx = join(tmp.path, `ctx-${++n}`);
  writeTree(ctx, { Dockerfile: dockerfile });
  return { ctx, layout: join(tmp.path, `layout-${n}`) };
}

const BODY = 'FROM scratch\nCMD echo hi\nLABEL a=$UNDEFINED\n';
const JSON_ARGS = 'Dockerfile:2: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals';
const UNDEFINED = "Dockerfile:3: UndefinedVar: Usage of undefined variable '$UNDEFINED'";

describe('build checks (# check=)', () => {
  it('skip= hides the rules it names, skip=all every rule; the image is the same', () => {
    const plain = context(BODY);
    const r0 = buildCli(plain.ctx, plain.layout, ['--tag', 't']);
    assert.equal(r0.status, 0, r0.stderr);
    assert.deepEqual(warnings(r0.stderr), [JSON_ARGS, UNDEFINED]);

    const one = context(`# check=skip=JSONArgsRecommended\n${BODY}`);
    const r1 = buildCli(one.ctx, one.layout, ['--tag', 't']);
    assert.equal(r1.status, 0, r1.stderr);
    assert.deepEqual(warnings(r1.stderr), ["Dockerfile:4: UndefinedVar: Usage of undefined variable '$UNDEFINED'"]);

    const all = context(`# syntax=docker/dockerfile:1\n# check=skip=all\n${BODY}`);
    const r2 = buildCli(all.ctx, all.layout, ['--tag', 't']);
    assert.equal(r2.status, 0, r2.stderr);
    assert.deepEqual(warnings(r2.stderr), []);
    assert.deepEqual(readImage(all.layout, 't').config.config, readImage(plain.layout, 't').config.config);
  });

  it('error=true fails the build when a warning is left, after showing it, and writes nothing', () => {
    const { ctx, layout } = context(`# check=error=true\n${BODY}`);
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(warnings(r.stderr), [
      'Dockerfile:3: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals',
      "Dockerfile:4: UndefinedVar: Usage of undefined variable '$UNDEFINED'",
    ]);
    assert.match(r.stderr, /^ocipush: Dockerfile: lint violation found for rules: JSONArgsRecommended, UndefinedVar \(check error=true/m);
    assert.equal(existsSync(layout), false);

    // With the rules skipped, nothing is left to fail on.
    const skipped = context(`# check=skip=JSONArgsRecommended,UndefinedVar;error=true\n${BODY}`);
    const ok = buildCli(skipped.ctx, skipped.layout, ['--tag', 't']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(warnings(ok.stderr), []);
  });

  it('--build-arg BUILDKIT_DOCKERFILE_CHECK replaces the directive, and is not an unused build arg', () => {
    const { ctx, layout } = context(`# check=skip=all\n${BODY}`);
    const r = buildCli(ctx, layout, ['--tag', 't', '--build-arg', 'BUILDKIT_DOCKERFILE_CHECK=skip=UndefinedVar;error=true']);
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(warnings(r.stderr), ['Dockerfile:3: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals']);
    assert.match(r.stderr, /lint violation found for rules: JSONArgsRecommended \(/);

    const bad = buildCli(ctx, layout, ['--tag', 't', '--build-arg', 'BUILDKIT_DOCKERFILE_CHECK=skip']);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /^ocipush: failed to parse build-arg:BUILDKIT_DOCKERFILE_CHECK: invalid check option "skip"$/m);
    assert.equal(existsSync(layout), false);
  });

  it('FromAsCasing reads as docker build prints it: the as keyword first (BuildKit\'s testRuleCheckOption, testStageName)', () => {
    const { ctx, layout } = context('FROM scratch as base\nfrom base AS final\nLABEL a=b\n');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(warnings(r.stderr).filter((w) => w.includes('FromAsCasing')), [
      "Dockerfile:1: FromAsCasing: 'as' and 'FROM' keywords' casing do not match",
      "Dockerfile:2: FromAsCasing: 'AS' and 'from' keywords' casing do not match",
    ]);
  });

  it('LegacyKeyValueFormat and MultipleInstructionsDisallowed are dispatch checks: a stage the target does not need is not flagged', () => {
    // BuildKit runs them as it dispatches (dispatchEnv, dispatchLabel, validateUsedOnce), so only
    // in the stages it builds; its testLegacyKeyValueFormat: no warning for an unreachable stage.
    const { ctx, layout } = context([
      '# check=error=true',
      'FROM scratch AS dev',
      'ENV MODE dev',
      'LABEL stage dev',
      'CMD ["a"]',
      'CMD ["b"]',
      'FROM scratch AS prod',
      'ENV MODE=prod',
      'CMD ["c"]',
      'FROM dev AS test',
      '',
    ].join('\n'));
    const r = buildCli(ctx, layout, ['--tag', 't', '--target', 'prod']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(warnings(r.stderr), []);
    assert.deepEqual(readImage(layout, 't').config.config.Cmd, ['c']);

    // Built, the stage is flagged (a stage built FROM it starts its own count).
    const dev = buildCli(ctx, join(tmp.path, `layout-${++n}`), ['--tag', 't', '--target', 'test']);
    assert.equal(dev.status, 1, dev.stderr);
    assert.deepEqual(warnings(dev.stderr), [
      'Dockerfile:3: LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format',
      'Dockerfile:4: LegacyKeyValueFormat: "LABEL key=value" should be used instead of legacy "LABEL key value" format',
      'Dockerfile:5: MultipleInstructionsDisallowed: Multiple CMD instructions should not be used in the same stage because only the last one will be used',
    ]);
  });

  it('a # check=skip= comment just above an instruction skips rules for it alone (BuildKit a248d48d0)', () => {
    const dockerfile = [
      '# check=error=true',
      '',
      '# check=skip=StageNameCasing // mixed-case stage name on purpose',
      'FROM scratch AS Build',
      '',
      '# check=skip=SecretsUsedInArgOrEnv // allow secret in environment',
      'ENV password=bar',
      '# a plain comment',
      '# check=skip=all // is local to only this instruction',
      'ARG alternate_password',
      '# check=skip=JSONArgsRecommended',
      'CMD mycommand',
      '# check=skip=WorkdirRelativePath',
      'WORKDIR app/',
      '# check=skip=MaintainerDeprecated',
      'MAINTAINER me@example.org',
      'ENV token=x',
      '  # check=skip=UndefinedVar',
      'LABEL a=$NOPE',
      '# check=skip=UndefinedVar',
      '#',
      'LABEL b=$NOPE2',
      '',
    ].join('\n');
    const { ctx, layout } = context(dockerfile);
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 1);
    // Not skipped: an instruction without a comment; an indented comment (BuildKit keeps its `#`:
    // no directive); a comment an empty `#` came after.
    assert.deepEqual(warnings(r.stderr), [
      'Dockerfile:17: SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "token")',
      "Dockerfile:19: UndefinedVar: Usage of undefined variable '$NOPE'",
      "Dockerfile:22: UndefinedVar: Usage of undefined variable '$NOPE2'",
    ]);
    assert.match(r.stderr, /lint violation found for rules: SecretsUsedInArgOrEnv, UndefinedVar \(/);
    assert.equal(existsSync(layout), false);
  });

  it('CopyIgnoredFile: a context source .dockerignore excludes is warned of (BuildKit, on by default since dockerfile 1.21)', () => {
    // validateCopySourcePath: the source as written, cleaned; its parents count; not with `!`
    // exceptions; the root only under a pattern that excludes every entry; never --from or heredocs.
    const { ctx, layout } = context('FROM scratch AS s\nFROM scratch\nCOPY . /app/\nCOPY *.log ./logs/ /l/\nADD build/out /b/\nCOPY /build /b2/\nCOPY --from=s /build /b3/\nCOPY <<EOF /build\nx\nEOF\n');
    writeTree(ctx, { '.dockerignore': '*.log\nlogs\nbuild\n', 'a.log': 'a', 'keep.txt': 'k' });
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.deepEqual(warnings(r.stderr), [
      'Dockerfile:4: CopyIgnoredFile: Attempting to Copy file "*.log" that is excluded by .dockerignore',
      'Dockerfile:4: CopyIgnoredFile: Attempting to Copy file "logs" that is excluded by .dockerignore',
      'Dockerfile:5: CopyIgnoredFile: Attempting to Add file "build/out" that is excluded by .dockerignore',
    ]);
    // (then the build fails, as BuildKit's: a source named outright is not in the context)
    assert.equal(r.status, 1);

    const root = context('# check=error=true\nFROM scratch\nCOPY . /app/\n');
    writeTree(root.ctx, { '.dockerignore': '*\n' });
    const failed = buildCli(root.ctx, root.layout, ['--tag', 't']);
    assert.equal(failed.status, 1);
    assert.deepEqual(warnings(failed.stderr), ['Dockerfile:3: CopyIgnoredFile: Attempting to Copy file "." that is excluded by .dockerignore']);
    assert.match(failed.stderr, /lint violation found for rules: CopyIgnoredFile \(/);
    for (const [ignore, why] of [['.*\n', 'a dotfile pattern does not exclude the root'], ['*\n!Dockerfile\n', 'an exception turns the check off']]) {
      writeTree(root.ctx, { '.dockerignore': ignore });
      const ok = buildCli(root.ctx, join(root.ctx, '..', `${root.layout}-ok`), ['--tag', 't']);
      assert.equal(ok.status, 0, `${why}: ${ok.stderr}`);
      assert.deepEqual(warnings(ok.stderr), [], why);
    }
  });

  it('a check directive BuildKit cannot read fails at its line', () => {
    const { ctx, layout } = context('# syntax=docker/dockerfile:1\n# check=skip=all;fail=1\nFROM scratch\n');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^ocipush: Dockerfile:2:1: failed to parse check options: invalid check option "fail"$/m);
    const bool = context('# check=error=yes\nFROM scratch\n');
    assert.match(buildCli(bool.ctx, bool.layout).stderr, /Dockerfile:1:1: failed to parse check options: failed to parse check option "error=yes": strconv.ParseBool: parsing "yes": invalid syntax/);
  });
});

describe('warnings found before a Dockerfile error', () => {
  // BuildKit sends each warning as it finds it, so docker build shows those found before its
  // error, then the error (its testWarningsBeforeError, testUndeclaredArg).
  const errorLine = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('ocipush: ') && !l.startsWith('ocipush: warning: '));

  it('an unknown instruction: the parser\'s warnings before it, and every empty continuation of the file', () => {
    const { ctx, layout } = context('\nFROM scratch AS BadStageName\nMAINTAINER me@example.org\nBADCMD\nLABEL a=b \\\n\n  c=d\n');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(warnings(r.stderr), [
      'Dockerfile:7: NoEmptyContinuation: Empty continuation line',
      "Dockerfile:2: StageNameCasing: Stage name 'BadStageName' should be lowercase",
      'Dockerfile:3: MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label',
    ]);
    assert.deepEqual(errorLine(r.stderr), ['ocipush: Dockerfile:4:1: unknown instruction "BADCMD"']);
    assert.ok(r.stderr.indexOf('MaintainerDeprecated') < r.stderr.indexOf('unknown instruction'), r.stderr);
    assert.equal(existsSync(layout), false);

    // The build arg that configures the checks applies to them as to any.
    const skipped = buildCli(ctx, layout, ['--tag', 't', '--build-arg', 'BUILDKIT_DOCKERFILE_CHECK=skip=MaintainerDeprecated,NoEmptyContinuation']);
    assert.equal(skipped.status, 1, skipped.stderr);
    assert.deepEqual(warnings(skipped.stderr), ["Dockerfile:2: StageNameCasing: Stage name 'BadStageName' should be lowercase"]);
  });

  it('a FROM --platform of an undeclared ARG: UndefinedArgInFrom, then the empty platform', () => {
    const { ctx, layout } = context('\nFROM --platform=$BULIDPLATFORM scratch\nCOPY Dockerfile .\n');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(warnings(r.stderr), ["Dockerfile:2: UndefinedArgInFrom: FROM argument 'BULIDPLATFORM' is not declared (did you mean BUILDPLATFORM?)"]);
    assert.deepEqual(errorLine(r.stderr), ['ocipush: Dockerfile:2:1: empty platform value from expression $BULIDPLATFORM (did you mean BUILDPLATFORM?)']);
  });

  it('a base image that cannot be had: the warnings BuildKit shows before it resolves one, none of the stages\' dispatch', () => {
    const { ctx, layout } = context(`FROM oci:${join(tmp.path, 'no-such-layout')} AS Build\nCMD echo hi\n`);
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(warnings(r.stderr), ["Dockerfile:1: StageNameCasing: Stage name 'Build' should be lowercase"]);
    assert.equal(errorLine(r.stderr).length, 1, r.stderr);
    assert.match(errorLine(r.stderr)[0]!, /^ocipush: Dockerfile:1:1: FROM oci:\S+ AS Build: /);
  });

  it('an instruction that fails as it is dispatched: the warnings of those before it, # check=skip= applied', () => {
    const { ctx, layout } = context('# check=skip=StageNameCasing\nFROM scratch AS Build\nCMD echo hi\nCOPY --chmod=abc Dockerfile /\nLABEL a=$UNDEFINED\n');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(warnings(r.stderr), [JSON_ARGS.replace(':2:', ':3:')]);
    assert.deepEqual(errorLine(r.stderr), ["ocipush: Dockerfile:4:1: invalid chmod parameter: 'abc': invalid syntax"]);
    assert.equal(existsSync(layout), false);
  });

  it('a RUN, which ocipush refuses before any image is fetched: the parser\'s and FROM lines\' warnings first', () => {
    const { ctx, layout } = context('FROM scratch AS Build\nMAINTAINER me\nRUN make\n');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(warnings(r.stderr), [
      "Dockerfile:1: StageNameCasing: Stage name 'Build' should be lowercase",
      'Dockerfile:2: MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label',
    ]);
    assert.match(errorLine(r.stderr).join('\n'), /^ocipush: Dockerfile:3:1: RUN cannot be built/);
  });
});

describe('rules on instruction casing and FROM lines', () => {
  it('ConsistentInstructionCasing: keywords in the case most of them use', () => {
    const { ctx, layout } = context('from scratch\ncopy Dockerfile /\nLabel a=b\nENV x=y\ncmd ["x"]\n');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(warnings(r.stderr), [
      "Dockerfile:3: ConsistentInstructionCasing: Command 'Label' should match the case of the command majority (lowercase)",
      "Dockerfile:4: ConsistentInstructionCasing: Command 'ENV' should match the case of the command majority (lowercase)",
    ]);
  });

  it('FromPlatformFlagConstDisallowed, RedundantTargetPlatform, InvalidDefaultArgInFrom, on every stage; error=true fails on them', () => {
    const dockerfile = [
      'ARG TAG',
      'FROM --platform=linux/amd64 scratch AS build',
      'FROM --platform=$TARGETPLATFORM scratch AS t',
      'FROM --platform=$BUILDPLATFORM scratch AS b',
      'FROM --platform=linux/arm64 scratch AS build-arm64',
      'FROM localhost:5000/node:${TAG} AS n',
      // ocipush's own base forms are never flagged: a layout, by oci: or by its directory's path.
      'FROM oci:./Layouts/Base:${TAG} AS l1',
      'FROM ./Layouts/Base AS l2',
      'FROM scratch',
      'COPY --from=build / /',
      '',
    ].join('\n');
    const { ctx, layout } = context(dockerfile);
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(warnings(r.stderr), [
      'Dockerfile:6: InvalidDefaultArgInFrom: Default value for ARG localhost:5000/node:${TAG} results in empty or invalid base image name',
      'Dockerfile:2: FromPlatformFlagConstDisallowed: FROM --platform flag should not use constant value "linux/amd64"',
      'Dockerfile:3: RedundantTargetPlatform: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
    ]);
    const strict = context(`# check=error=true\n${dockerfile}`);
    const failed = buildCli(strict.ctx, strict.layout, ['--tag', 't']);
    assert.equal(failed.status, 1);
    assert.match(failed.stderr, /lint violation found for rules: FromPlatformFlagConstDisallowed, InvalidDefaultArgInFrom, RedundantTargetPlatform \(/);
  });
});

describe('UndefinedVar and UndefinedArgInFrom', () => {
  it('suggest the declared name a typo is closest to, as BuildKit does (suggest.Search, distance under 3)', () => {
    const { ctx, layout } = context('ARG VERSION=1\nARG BASE=scratch\nFROM ${BASEE:-scratch}\nARG VERSION\nENV APP_HOME=/srv\nLABEL v=$VERISON h=$APP_HOM x=$TOTALLYDIFFERENT\n');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(warnings(r.stderr), [
      "Dockerfile:3: UndefinedArgInFrom: FROM argument 'BASEE' is not declared (did you mean BASE?)",
      "Dockerfile:6: UndefinedVar: Usage of undefined variable '$VERISON' (did you mean $VERSION?)",
      "Dockerfile:6: UndefinedVar: Usage of undefined variable '$APP_HOM' (did you mean $APP_HOME?)",
      "Dockerfile:6: UndefinedVar: Usage of undefined variable '$TOTALLYDIFFERENT'",
    ]);
  });
});

describe('SecretsUsedInArgOrEnv', () => {
  it('names ending in _FILE or _VERSION (or with PUBLIC) are not secrets, as in BuildKit since January 2026', () => {
    const { ctx, layout } = context('FROM scratch\nARG GPG_KEY_VERSION=2\nENV DB_PASSWORD_FILE=/run/secrets/db API_TOKEN_FILE=/run/t PUBLIC_KEY=k\n');
    const r = buildCli(ctx, layout, ['--tag', 't']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(warnings(r.stderr), []);
    const secret = context('FROM scratch\nARG GITHUB_TOKEN\nENV DB_PASSWORD=x\n');
    assert.deepEqual(warnings(buildCli(secret.ctx, secret.layout, ['--tag', 't']).stderr), [
      'Dockerfile:2: SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN")',
      'Dockerfile:3: SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD")',
    ]);
  });
});

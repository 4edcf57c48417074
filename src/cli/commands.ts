import type { CliCommand } from './command.js';
import { buildCommand } from './build.js';
import { exportCommand } from './export.js';
import { pushCommand } from './push.js';
import { pullCommand } from './pull.js';
import { inspectCommand } from './inspect.js';
import { indexCommand } from './index-command.js';
import { gcCommand } from './gc.js';
import { generateKeyPairCommand } from './generate-key-pair.js';
import { signCommand } from './sign.js';
import { verifyCommand } from './verify.js';
import { attachCommand } from './attach.js';
import { referrersCommand } from './referrers.js';
import { sbomCommand } from './sbom.js';
import { attestCommand } from './attest.js';
import { verifyAttestationCommand } from './verify-attestation.js';

/**
 * Every command, in the order `--help` lists them. Each module is light; heavy code loads in `run`.
 * Add a command by adding its module here.
 */
export const commands: CliCommand<any>[] = [buildCommand, pushCommand, pullCommand, inspectCommand, exportCommand, indexCommand, gcCommand,
  generateKeyPairCommand, signCommand, verifyCommand, attachCommand, referrersCommand, sbomCommand,
  attestCommand, verifyAttestationCommand];

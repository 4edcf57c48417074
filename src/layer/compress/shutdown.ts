import { closeHashWorker } from './input-hasher.js';
import { compressionPool } from './pool.js';

/**
 * Ends the shared compression and hashing workers now (tests, embedders); running jobs fail.
 * Never needed before exit: idle workers do not hold the process open.
 */
export async function closeCompressionPool(): Promise<void> {
  await Promise.all([compressionPool().close(), closeHashWorker()]);
}

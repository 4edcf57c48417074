/**
 * Preloaded into a CLI process by `clockAheadEnv()` (tools.ts), never imported: its wall clock
 * (Date.now) a minute ahead. File times stay the kernel's, so to the layer cache a tree the test
 * wrote just now is a minute old, past its racy window, as `cacheClock` makes it for a library build.
 */
const realNow = Date.now;
Date.now = () => realNow() + 60_000;
export {};

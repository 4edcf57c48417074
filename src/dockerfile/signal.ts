/**
 * STOPSIGNAL validation as moby/sys/signal.ParseSignal does it on Linux: a non-zero number, or a
 * signal name with or without the SIG prefix, any case. The image config keeps the text as written.
 */

const NAMES = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE',
  'POLL', 'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU',
  'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `RTMAX-${i + 1}`),
]);

/** Go's int on the 64-bit platforms BuildKit runs on: strconv.Atoi's range. */
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function isValidStopSignal(raw: string): boolean {
  if (/^[+-]?[0-9]+$/.test(raw)) {
    // Compared exactly: a Number rounds above 2^53, and Atoi takes every int64 (then any but 0).
    const n = BigInt(raw);
    return n !== 0n && n >= INT64_MIN && n <= INT64_MAX;
  }
  const upper = raw.toUpperCase();
  return NAMES.has(upper.startsWith('SIG') ? upper.slice(3) : upper);
}

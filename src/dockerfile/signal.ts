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

export function isValidStopSignal(raw: string): boolean {
  if (/^[+-]?[0-9]+$/.test(raw)) {
    const n = Number(raw);
    return n !== 0 && Number.isSafeInteger(n) && Math.abs(n) <= 2 ** 63;
  }
  const upper = raw.toUpperCase();
  return NAMES.has(upper.startsWith('SIG') ? upper.slice(3) : upper);
}

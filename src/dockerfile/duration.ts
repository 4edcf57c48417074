/**
 * Go's time.ParseDuration, which HEALTHCHECK's --interval/--timeout/--start-period/
 * --start-interval use: "300ms", "1.5h", "2h45m", "-1s", "0". Returns nanoseconds (what the
 * image config stores) or throws with Go's message.
 */

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  '\u00b5s': 1_000n,
  '\u03bcs': 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX = 1n << 63n;

export function parseGoDuration(text: string): number {
  const invalid = (): Error => new Error(`time: invalid duration ${JSON.stringify(text)}`);
  let s = text;
  let negative = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0n;
  while (s !== '') {
    if (!/^[0-9.]/.test(s)) throw invalid();
    const whole = /^[0-9]*/.exec(s)![0];
    let value = 0n;
    for (const c of whole) {
      value = value * 10n + BigInt(c.charCodeAt(0) - 48);
      if (value > MAX) throw invalid();
    }
    s = s.slice(whole.length);
    let fraction = 0n;
    let scale = 1;
    let hasFraction = false;
    if (s.startsWith('.')) {
      s = s.slice(1);
      const digits = /^[0-9]*/.exec(s)![0];
      hasFraction = digits.length > 0;
      let overflow = false;
      for (const c of digits) {
        if (overflow) continue;
        const next = fraction * 10n + BigInt(c.charCodeAt(0) - 48);
        if (fraction > (MAX - 1n) / 10n || next > MAX) {
          overflow = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      s = s.slice(digits.length);
    }
    if (whole.length === 0 && !hasFraction) throw invalid();
    const unitText = /^[^0-9.]*/.exec(s)![0];
    if (unitText === '') throw new Error(`time: missing unit in duration ${JSON.stringify(text)}`);
    s = s.slice(unitText.length);
    const unit = UNITS[unitText];
    if (unit === undefined) throw new Error(`time: unknown unit ${JSON.stringify(unitText)} in duration ${JSON.stringify(text)}`);
    if (value > MAX / unit) throw invalid();
    value *= unit;
    if (fraction > 0n) {
      value += BigInt(Math.trunc(Number(fraction) * (Number(unit) / scale)));
      if (value > MAX) throw invalid();
    }
    total += value;
    if (total > MAX) throw invalid();
  }
  if (!negative && total > MAX - 1n) throw invalid();
  return Number(negative ? -total : total);
}

/**
 * `COPY --chmod` as BuildKit reads it (dockerfile2llb's dispatchCopy): an octal number up to
 * 07777, or a symbolic mode as chmod(1) takes it (`go-w`, `u=rw,g=r,o=r`, `a+X`), which BuildKit
 * parses with tonistiigi/dchapes-mode (BSD's setmode, umask 0) and applies to each copied file
 * and directory's own mode. The parser below follows setmode step by step, so that odd modes
 * (`u=g`, `+s` with no who, `=` alone) come out as BuildKit's do.
 */

export type Chmod = { kind: 'octal'; mode: number } | { kind: 'symbolic'; text: string; commands: readonly ModeCommand[] };

/** One setmode command: `+`/`-` set or clear bits, `X` sets them on directories and executables, `u`/`g`/`o` copy a class. */
export interface ModeCommand {
  cmd: '+' | '-' | 'X' | 'u' | 'g' | 'o';
  bits: number;
  /** For `u`/`g`/`o`: the classes written (0o700/0o070/0o007 flags), and whether they are cleared and/or set. */
  copy?: { user: boolean; group: boolean; other: boolean; clear: boolean; set: boolean };
}

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_ISTXT = 0o1000;
const RWXU = 0o700;
const RWXG = 0o070;
const RWXO = 0o007;
const STANDARD = S_ISUID | S_ISGID | RWXU | RWXG | RWXO;

/**
 * Reads a --chmod value; throws a one-line Error for one BuildKit refuses (the caller adds the
 * position).
 */
export function parseChmod(text: string): Chmod {
  const nonOctal = new Error(`invalid chmod parameter: '${text}'. it should be octal string and between 0 and 07777`);
  if (/^[0-7]+$/.test(text)) {
    const mode = Number.parseInt(text, 8);
    if (mode > 0o7777) throw nonOctal;
    return { kind: 'octal', mode };
  }
  // A value that looks numeric keeps the octal message (strconv.NumError), as in BuildKit.
  if (/^[0-9]/.test(text)) throw nonOctal;
  const commands = parseSymbolic(text);
  if (!commands) throw new Error(`invalid chmod parameter: '${text}': invalid syntax`);
  return { kind: 'symbolic', text, commands };
}

/** The mode (07777 bits) a copied file or directory gets from its source's mode. */
export function applyChmod(chmod: Chmod, mode: number, isDir: boolean): number {
  if (chmod.kind === 'octal') return chmod.mode & 0o7777;
  const old = mode & 0o7777;
  let m = old;
  for (const c of chmod.commands) {
    switch (c.cmd) {
      case '+': m |= c.bits; break;
      case '-': m &= ~c.bits; break;
      case 'X': if ((old & 0o111) !== 0 || isDir) m |= c.bits; break;
      default: {
        const value = c.cmd === 'u' ? (m & RWXU) >> 6 : c.cmd === 'g' ? (m & RWXG) >> 3 : m & RWXO;
        const copy = c.copy!;
        if (copy.clear) {
          const clear = copy.set ? RWXO : value;
          if (copy.user) m &= ~((clear << 6) & c.bits);
          if (copy.group) m &= ~((clear << 3) & c.bits);
          if (copy.other) m &= ~(clear & c.bits);
        }
        if (copy.set) {
          if (copy.user) m |= (value << 6) & c.bits;
          if (copy.group) m |= (value << 3) & c.bits;
          if (copy.other) m |= value & c.bits;
        }
      }
    }
  }
  return m & 0o7777;
}

/**
 * The mode of the directories a COPY creates for its destination: since BuildKit's February 2025
 * file-copy change (fsutil copy.Copy's MkdirAll), an octal --chmod's permission bits (the setuid,
 * setgid and sticky bits do not reach os.Mkdir), else 0755 (a symbolic mode leaves them 0755).
 */
export function createdDirectoryMode(chmod: Chmod | undefined): number {
  return chmod?.kind === 'octal' ? chmod.mode & 0o777 : 0o755;
}

/** setmode(3) with umask 0: the commands, or undefined for a syntax error. */
function parseSymbolic(input: string): ModeCommand[] | undefined {
  const cmds: ModeCommand[] = [];
  const add = (op: string, who: number, arg: number): void => {
    if (op === '=') {
      cmds.push({ cmd: '-', bits: who !== 0 ? who : STANDARD });
      op = '+';
    }
    if (op === '+' || op === '-' || op === 'X') {
      cmds.push({ cmd: op, bits: (who !== 0 ? who : 0o7777) & arg });
      return;
    }
    const copyOp = String.fromCharCode(arg);
    const copy = {
      user: who === 0 || (who & 0o400) !== 0,
      group: who === 0 || (who & 0o040) !== 0,
      other: who === 0 || (who & 0o004) !== 0,
      clear: copyOp === '-' || copyOp === '=',
      set: copyOp === '+' || copyOp === '=',
    };
    cmds.push({ cmd: op as 'u' | 'g' | 'o', bits: who !== 0 ? 0xffff : 0o7777, copy });
  };
  let s = input;
  if (s === '') return undefined;
  let equalOpDone = false;
  for (;;) {
    let who = 0;
    for (;;) {
      if (s === '') return undefined;
      const ch = s[0];
      if (ch === 'a') who |= STANDARD;
      else if (ch === 'u') who |= S_ISUID | RWXU;
      else if (ch === 'g') who |= S_ISGID | RWXG;
      else if (ch === 'o') who |= RWXO;
      else break;
      s = s.slice(1);
    }
    for (;;) {
      // getop
      const op = s[0]!;
      s = s.slice(1);
      if (op === '=') equalOpDone = false;
      else if (op !== '+' && op !== '-') return undefined;
      who &= ~S_ISTXT;
      let perm = 0;
      let permX = 0;
      for (;; s = s.slice(1)) {
        const b = s[0] ?? '';
        if (b === 'r') perm |= 0o444;
        else if (b === 's') {
          if (who === 0 || (who & ~RWXO) !== 0) perm |= S_ISUID | S_ISGID;
        } else if (b === 't') {
          if (who === 0 || (who & ~RWXO) !== 0) {
            who |= S_ISTXT;
            perm |= S_ISTXT;
          }
        } else if (b === 'w') perm |= 0o222;
        else if (b === 'X') {
          if (op !== '-') permX = 0o111;
          else perm |= 0o111;
        } else if (b === 'x') perm |= 0o111;
        else if (b === 'u' || b === 'g' || b === 'o') {
          if (perm !== 0) {
            add(op, who, perm);
            perm = 0;
          }
          if (op === '=') equalOpDone = true;
          if (permX !== 0) {
            add('X', who, permX);
            permX = 0;
          }
          add(b, who, op.charCodeAt(0));
        } else {
          if (perm !== 0 || (op === '=' && !equalOpDone)) {
            if (op === '=') equalOpDone = true;
            add(op, who, perm);
          }
          if (permX !== 0) add('X', who, permX);
          break;
        }
      }
      if (s === '') return compress(cmds);
      if (s[0] !== ',') continue;
      s = s.slice(1);
      break;
    }
  }
}

/** setmode's compress: runs of +, - and X folded into at most one of each, in that order. */
function compress(cmds: ModeCommand[]): ModeCommand[] {
  const out: ModeCommand[] = [];
  for (let i = 0; i < cmds.length; i++) {
    if (!'+-X'.includes(cmds[i]!.cmd)) {
      out.push(cmds[i]!);
      continue;
    }
    let set = 0;
    let clear = 0;
    let x = 0;
    for (; i < cmds.length; i++) {
      const c = cmds[i]!;
      if (c.cmd === '-') {
        clear |= c.bits;
        set &= ~c.bits;
        x &= ~c.bits;
      } else if (c.cmd === '+') {
        set |= c.bits;
        clear &= ~c.bits;
        x &= ~c.bits;
      } else if (c.cmd === 'X') {
        x |= c.bits & ~set;
      } else {
        i--;
        break;
      }
    }
    if (clear !== 0) out.push({ cmd: '-', bits: clear });
    if (set !== 0) out.push({ cmd: '+', bits: set });
    if (x !== 0) out.push({ cmd: 'X', bits: x });
  }
  return out;
}

import { OcipushError } from '../../errors.js';

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC = 0x184d2a50; // up to …5f: the low 4 bits are free
const MAX_BLOCK_SIZE = 128 << 10;

type State = 'magic' | 'descriptor' | 'header' | 'blockHeader' | 'blockBody' | 'checksum' | 'skipSize' | 'skipBody';
const SMALL_FIELDS: ReadonlySet<State> = new Set(['magic', 'descriptor', 'blockHeader', 'skipSize']);

/** The bytes of one zstd frame found in one chunk; `end` when the frame's last byte is among them. */
export interface FrameSegment {
  pieces: Buffer[];
  end: boolean;
}

/**
 * Finds frame boundaries in a zstd stream (RFC 8878 §3.1) from the frame and block headers
 * alone, without decompressing: enough to hand each frame to its own decoder. Skippable frames
 * (zstd:chunked metadata) are dropped.
 */
export class ZstdFrameScanner {
  private state: State = 'magic';
  private need = 4;
  private field: number[] = [];
  private skippable = false;
  private checksum = false;
  private lastBlock = false;
  /** Inside a zstd frame past its magic: bytes go to the decoder as they come. */
  private forwarding = false;
  private frameEnded = false;

  /** True between frames, the only place a stream may end. */
  get atBoundary(): boolean {
    return this.state === 'magic' && this.field.length === 0;
  }

  split(chunk: Buffer): FrameSegment[] {
    const segments: FrameSegment[] = [];
    let pieces: Buffer[] = [];
    let runStart = this.forwarding ? 0 : -1;
    let at = 0;
    while (at < chunk.length) {
      if (SMALL_FIELDS.has(this.state)) {
        this.field.push(chunk[at++]!);
        if (this.field.length < this.need) continue;
        const bytes = Buffer.from(this.field);
        this.field = [];
        if (this.state === 'magic') {
          const magic = bytes.readUInt32LE(0);
          this.skippable = (magic & 0xfffffff0) >>> 0 === SKIPPABLE_MAGIC;
          if (!this.skippable && magic !== ZSTD_MAGIC) throw new OcipushError('EINVALID', 'not zstd data (bad frame magic number)');
          if (!this.skippable) {
            // The magic was held back until the frame type was known.
            this.forwarding = true;
            pieces.push(bytes);
            runStart = at;
          }
        }
        this.onField(bytes);
      } else {
        const n = Math.min(this.need, chunk.length - at);
        at += n;
        this.need -= n;
        if (this.need === 0) this.afterBody();
      }
      if (this.frameEnded) {
        this.frameEnded = false;
        if (this.forwarding) {
          if (at > runStart) pieces.push(chunk.subarray(runStart, at));
          segments.push({ pieces, end: true });
        }
        pieces = [];
        runStart = -1;
        this.forwarding = false;
      }
    }
    if (runStart >= 0 && at > runStart) pieces.push(chunk.subarray(runStart, at));
    if (pieces.length > 0) segments.push({ pieces, end: false });
    return segments;
  }

  private onField(bytes: Buffer): void {
    switch (this.state) {
      case 'magic':
        if (this.skippable) this.enter('skipSize', 4);
        else this.enter('descriptor', 1);
        return;
      case 'descriptor': {
        const d = bytes[0]!;
        const singleSegment = (d >> 5) & 1;
        this.checksum = ((d >> 2) & 1) === 1;
        const window = singleSegment ? 0 : 1;
        const dictionaryId = [0, 1, 2, 4][d & 3]!;
        const contentSize = [singleSegment, 2, 4, 8][d >> 6]!;
        this.enter('header', window + dictionaryId + contentSize);
        return;
      }
      case 'blockHeader': {
        const h = bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16);
        this.lastBlock = (h & 1) === 1;
        const type = (h >> 1) & 3;
        const size = h >>> 3;
        if (type === 3 || size > MAX_BLOCK_SIZE) throw new OcipushError('EINVALID', 'corrupt zstd data (bad block header)');
        this.enter('blockBody', type === 1 ? 1 : size); // an RLE block stores one byte
        return;
      }
      case 'skipSize':
        this.enter('skipBody', bytes.readUInt32LE(0));
        return;
      default:
        throw new Error(`zstd frame scanner: no field in state ${this.state}`);
    }
  }

  /** The counted part of the current state has been consumed. */
  private afterBody(): void {
    switch (this.state) {
      case 'header':
        this.enter('blockHeader', 3);
        return;
      case 'blockBody':
        if (!this.lastBlock) this.enter('blockHeader', 3);
        else if (this.checksum) this.enter('checksum', 4);
        else this.endFrame();
        return;
      default: // checksum, skipBody
        this.endFrame();
    }
  }

  private enter(state: State, need: number): void {
    this.state = state;
    this.need = need;
    // Empty headers, empty raw blocks and empty skippable frames have nothing to count.
    if (need === 0 && !SMALL_FIELDS.has(state)) this.afterBody();
  }

  private endFrame(): void {
    this.frameEnded = true;
    this.enter('magic', 4);
  }
}

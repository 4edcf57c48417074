import { Transform, type Duplex, type TransformCallback } from 'node:stream';
import { OcipushError } from '../../errors.js';
import { ZstdFrameScanner, type FrameSegment } from './zstd-frames.js';
import { zstdZlib } from './zstd-support.js';

/**
 * zstd decompression of every frame of a stream. Node's decoder (22.15–24 at least, nodejs/node
 * #64741) ends after the first frame and drops the rest, but multi-frame streams are common:
 * our own parallel output, zstd:chunked layers, `cat a.zst b.zst`. So each frame gets its own
 * decoder, and the frames' outputs follow each other in order.
 */
export class ZstdDecompressor extends Transform {
  private readonly scanner = new ZstdFrameScanner();
  private decoder: Duplex | null = null;
  private decoderEnded: Promise<void> | null = null;
  private failure: Error | null = null;

  constructor() {
    super({ readableHighWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let segments: FrameSegment[];
    try {
      segments = this.scanner.split(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.feed(segments).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.scanner.atBoundary) {
      callback(new OcipushError('EINVALID', 'truncated zstd data (the stream ends inside a frame)'));
      return;
    }
    callback();
  }

  override _read(size: number): void {
    this.decoder?.resume();
    super._read(size);
  }

  override _destroy(err: Error | null, callback: (err: Error | null) => void): void {
    this.decoder?.destroy();
    this.decoder = null;
    callback(err);
  }

  private async feed(segments: FrameSegment[]): Promise<void> {
    for (const { pieces, end } of segments) {
      const decoder = this.decoder ?? this.openDecoder();
      for (const piece of pieces) {
        if (!decoder.write(piece)) await this.drained(decoder);
      }
      if (end) {
        decoder.end();
        await this.decoderEnded;
        this.decoder = null;
      }
      if (this.failure) throw this.failure;
    }
  }

  private openDecoder(): Duplex {
    const decoder = zstdZlib.createZstdDecompress!({ chunkSize: 1 << 20 });
    decoder.on('data', (c: Buffer) => {
      if (!this.push(c)) decoder.pause(); // resumed by _read
    });
    this.decoderEnded = new Promise((resolve, reject) => {
      decoder.once('end', resolve);
      decoder.once('error', (err) => {
        this.failure = new OcipushError('EINVALID', `corrupt zstd data (${err.message})`, { cause: err });
        reject(this.failure);
      });
    });
    this.decoderEnded.catch(() => {});
    this.decoder = decoder;
    return decoder;
  }

  private drained(decoder: Duplex): Promise<void> {
    return new Promise((resolve, reject) => {
      const onDrain = () => { decoder.off('error', onError); resolve(); };
      const onError = (err: Error) => { decoder.off('drain', onDrain); reject(err); };
      decoder.once('drain', onDrain);
      decoder.once('error', onError);
    });
  }
}

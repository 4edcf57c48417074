import { OcipushError } from '../errors.js';

/** At most `size` tasks at once; once closed (a failure), queued tasks are dropped. */
export class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  private closed = false;

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next in line, so the bound always holds.
    if (this.active >= this.size) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.active++;
    try {
      if (this.closed) throw new OcipushError('EABORTED', 'copy stopped after an earlier failure');
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }

  close(): void {
    this.closed = true;
    for (const wake of this.queue.splice(0)) wake();
  }
}

import { EXIT_GRACE_MS } from '../content/cleanup.js';

/**
 * The requests a registry client has in flight, for its destroy(): every other request is
 * stopped at once, and those that undo what a stopped operation began (an upload session's
 * DELETE) or must not be cut (the POST that opens one: answered after nobody listened, it would
 * leave a session nobody can name) are let finish, for a short while, before the connections go.
 * Without it a failed push that destroys its client cut its own cleanup: each session it opened
 * stayed in the registry until its purge (distribution: a week).
 */
export class InFlight {
  private readonly live = new Set<Promise<unknown>>();
  /** One per request that stop() stops: a signal shared by them all gathered a listener of each (undici's), past Node's warning at eleven. */
  private readonly stoppable = new Set<AbortController>();
  private stopped = false;

  /**
   * `send`, given the signal it goes with (its own, and the client's stop unless it
   * `outlivesStop`), counted until it settles.
   */
  run<T>(own: AbortSignal | undefined, outlivesStop: boolean | undefined, send: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    if (outlivesStop) return this.track(send(own));
    const stop = new AbortController();
    if (this.stopped) stop.abort();
    this.stoppable.add(stop);
    const request = send(own ? AbortSignal.any([own, stop.signal]) : stop.signal);
    return this.track(request, () => this.stoppable.delete(stop));
  }

  private track<T>(request: Promise<T>, done?: () => void): Promise<T> {
    const settled = request.then(() => {}, () => {});
    this.live.add(settled);
    void settled.then(() => { this.live.delete(settled); done?.(); });
    return request;
  }

  /**
   * Stops every request that does not outlive it, then waits (at most `graceMs`, the time a
   * signal's exit grants the same cleanup) until none is in flight: the stopped operations'
   * owners send their DELETEs as they fail, a few turns of the event loop later.
   */
  async stop(graceMs = EXIT_GRACE_MS): Promise<void> {
    this.stopped = true;
    for (const stop of this.stoppable) stop.abort();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), graceMs); });
    try {
      for (;;) {
        // A cleanup starts in the handler of the failure the stop caused: a turn later.
        if (this.live.size === 0) await new Promise((resolve) => setImmediate(resolve));
        if (this.live.size === 0) return;
        if (await Promise.race([Promise.all(this.live), late]) === 'late') return;
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

// Time source for the emulator. The real clock for `npm run emulator`; tests inject a VirtualClock so
// pacing (1 uplink message/s) and token expiry are checked deterministically, without sleeping.

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface VirtualTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock that only moves when advance() is called; due timers fire in time order. */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: VirtualTimer[] = [];

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: VirtualTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    const i = this.#timers.indexOf(handle as VirtualTimer);
    if (i >= 0) this.#timers.splice(i, 1);
  }

  /** Number of timers waiting. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Move time forward by ms, firing every timer that falls due (including ones they schedule). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: VirtualTimer | undefined;
      for (const t of this.#timers) {
        if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = end;
  }
}

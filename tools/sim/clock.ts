// Host-side clocks for the lanes. The in-lane timer module asks for one wake-up at a time
// (Host.wakeAt); the clock calls the lane's wake function when that time comes.
//   RealClock: wall time (npm start). VirtualClock: moves only when a test calls advance(), firing
//   every wake-up in between in time order, so runs are deterministic.

export type WakeFn = () => void | Promise<void>;

export interface Clock {
  readonly virtual: boolean;
  /** ms since the lane booted. */
  now(): number;
  /** ms since 1970 at now(). */
  epoch(): number;
  /** Requests one wake at `at` (replacing the previous request); undefined cancels. */
  setWake(at: number | undefined): void;
  /** Called by the lane once: what to run at wake-up. */
  bind(wake: WakeFn): void;
  /** Blocking delay from inside the lane (virtual: time moves on; real: the caller sleeps). */
  delay(ms: number): void;
  stop(): void;
}

/** The default epoch of a virtual clock: 2026-01-01T00:00:00Z (fixed so runs are reproducible). */
export const VIRTUAL_EPOCH = Date.UTC(2026, 0, 1);

export class VirtualClock implements Clock {
  readonly virtual = true;
  #now = 0;
  #wakeAt: number | undefined;
  #wake: WakeFn = () => {};
  readonly #epoch0: number;

  constructor(epoch0 = VIRTUAL_EPOCH, start = 0) {
    this.#epoch0 = epoch0;
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  epoch(): number {
    return this.#epoch0 + this.#now;
  }
  setWake(at: number | undefined): void {
    this.#wakeAt = at;
  }
  bind(wake: WakeFn): void {
    this.#wake = wake;
  }
  delay(ms: number): void {
    if (ms > 0) this.#now += Math.floor(ms);
  }
  /** The pending wake-up time, if any. */
  get nextWake(): number | undefined {
    return this.#wakeAt;
  }
  /**
   * Moves time forward by `ms`, running every wake-up that falls due on the way (at its own time),
   * and letting promise jobs and pending I/O callbacks run after each.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + Math.max(0, Math.floor(ms));
    for (;;) {
      const at = this.#wakeAt;
      if (at === undefined || at > target) break;
      if (at > this.#now) this.#now = at;
      this.#wakeAt = undefined;
      await this.#wake();
      await settle();
    }
    // Timer.delay inside a wake-up may have moved time past the target: time never runs backwards.
    if (this.#now < target) this.#now = target;
    await settle();
  }
  /** Fires wake-ups due now (at the current time) without moving time. */
  async flush(): Promise<void> {
    await this.advance(0);
  }
  stop(): void {
    this.#wakeAt = undefined;
  }
}

/** Lets queued promise jobs and already-arrived I/O callbacks run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class RealClock implements Clock {
  readonly virtual = false;
  readonly #start = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #wake: WakeFn = () => {};
  #stopped = false;

  now(): number {
    return Math.floor(performance.now() - this.#start);
  }
  epoch(): number {
    return Date.now();
  }
  setWake(at: number | undefined): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (at === undefined || this.#stopped) return;
    const wait = Math.max(0, at - this.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#wake();
    }, wait);
  }
  bind(wake: WakeFn): void {
    this.#wake = wake;
  }
  delay(ms: number): void {
    if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  }
  stop(): void {
    this.#stopped = true;
    this.setWake(undefined);
  }
}

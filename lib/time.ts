// Time arithmetic that survives the board's clock.
//
// On the ESP32, `Time.ticks` is the FreeRTOS millisecond tick put into a signed 32-bit integer: it
// turns negative after 2^31 ms (24.8 days up) and wraps after 2^32 ms (49.7 days). On the Moddable
// desktop simulators it is epoch milliseconds instead (docs/moddable.md). Intervals are therefore
// measured as unsigned 32-bit differences, never by comparing raw ticks.

/**
 * Milliseconds from `start` to `end` (both `Time.ticks` values, `end` not before `start`), right across
 * the sign flip and the wrap; exact for intervals under 49.7 days.
 */
export function ticksSince(start: number, end: number): number {
  const d = end - start;
  // Negative only when the 32-bit counter wrapped (or flipped sign) in between.
  return d >= 0 ? d : d + 4294967296;
}

/**
 * The firmware's one clock for intervals: milliseconds since it was made, counted from the board's
 * wrapping tick into a number that never wraps. Deadlines and pacing compare these values, never
 * raw ticks. It must be read at least once every 49 days (any timer or status line does).
 */
export class Uptime {
  readonly #ticks: () => number;
  #last: number;
  #total = 0;

  constructor(ticks: () => number) {
    this.#ticks = ticks;
    this.#last = ticks();
  }

  now(): number {
    const t = this.#ticks();
    // ticksSince inlined: the clock is read ~9 times a report, and on XS the call cost as much as the sum.
    const d = t - this.#last;
    this.#last = t;
    return (this.#total += d >= 0 ? d : d + 4294967296);
  }
}

/** Epoch milliseconds before which the wall clock was never set (September 2020). */
export const EPOCH_KNOWN = 1600000000000;

/** True when `epochMs` is a plausible wall-clock time: the clock was set (by SNTP or the host). */
export function epochKnown(epochMs: number): boolean {
  return epochMs >= EPOCH_KNOWN;
}

// Time arithmetic that survives the board's clock.
//
// On the ESP32, `Time.ticks` is the FreeRTOS millisecond tick put into a signed 32-bit integer: it
// turns negative after 2^31 ms (24.8 days up) and wraps after 2^32 ms (49.7 days). On the Moddable
// desktop simulators it is epoch milliseconds instead (docs/moddable.md). Intervals are therefore
// measured as unsigned 32-bit differences, never by comparing raw ticks.

/** Milliseconds from `start` to `end` (both `Time.ticks` values), right across the sign flip and the wrap. */
export function ticksSince(start: number, end: number): number {
  return (end - start) >>> 0;
}

/** Epoch milliseconds before which the wall clock was never set (September 2020). */
export const EPOCH_KNOWN = 1600000000000;

/** True when `epochMs` is a plausible wall-clock time: the clock was set (by SNTP or the host). */
export function epochKnown(epochMs: number): boolean {
  return epochMs >= EPOCH_KNOWN;
}

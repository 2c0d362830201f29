// Moddable "time" as the ESP32 has it (docs/moddable.md): Time.ticks is the FreeRTOS millisecond
// counter, an unsigned 32-bit number stored in a signed 32-bit integer, so it turns negative after
// 2^31 ms and wraps after 2^32 ms; Time.delta is the unsigned difference stored the same way.
// The counter starts at 0 at boot, or at the sim-only `ticks=<n>` setting so a run reaches the sign
// flip (ticks=2147470000: 13 s after boot) or the wrap (ticks=4294950000) in seconds.
// Time.set moves the wall clock (Date follows); timezone/dst in seconds, as on the board. Lane-neutral.
import { host } from "../host.ts";

let wallOffset = 0; // ms added to the host epoch by Time.set
let start: number | undefined;

/** Where the board's counter starts, from the `ticks` setting (default 0). */
export function ticksStart(): number {
  if (start === undefined) {
    const raw = host().config().ticks;
    const n = raw === undefined || raw === "" ? 0 : Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`sim: ticks must be an integer 0..4294967295, got ${String(raw)}`);
    start = n;
  }
  return start;
}

/** The board's Time.ticks at lane time `ms` (ms since boot). */
export function boardTicks(ms: number): number {
  return (ticksStart() + ms) | 0;
}

const Time = {
  get ticks(): number {
    return boardTicks(host().ticks());
  },
  get microseconds(): number {
    return host().ticks() * 1000;
  },
  delta(start: number, end?: number): number {
    return ((end ?? boardTicks(host().ticks())) - start) | 0;
  },
  set(seconds: number): void {
    wallOffset = seconds * 1000 - host().epoch();
  },
  timezone: 0,
  dst: 0,
};

/** Wall-clock ms since 1970 as the firmware sees it (host epoch plus any Time.set). */
export function wallClock(): number {
  return host().epoch() + wallOffset;
}

export default Time;

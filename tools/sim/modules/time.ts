// Moddable "time": Time.ticks (ms since boot on the lane's clock), Time.delta, Time.set (moves the
// wall clock: Date follows), timezone/dst (seconds, as on the board). Lane-neutral.
import { host } from "../host.ts";

let wallOffset = 0; // ms added to the host epoch by Time.set

const Time = {
  get ticks(): number {
    return host().ticks();
  },
  get microseconds(): number {
    return host().ticks() * 1000;
  },
  delta(start: number, end?: number): number {
    return (end ?? host().ticks()) - start;
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

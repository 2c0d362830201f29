// Wall-clock time for reports, where the host already keeps it (the Moddable desktop simulator,
// `npm start`): nothing to fetch. On the board, manifest.json maps "app-clock" to app-clock-sntp.ts,
// which has the same exports and sets the clock by SNTP once Wi-Fi is up.

import { info } from "./log";

/** Asks for the time (once per call); `done(true)` when the clock is set. */
export function syncClock(done: (ok: boolean) => void): void {
  info("time", "using the host clock", { utc: new Date().toISOString() });
  done(clockKnown());
}

/** True once the wall clock holds a plausible time (after Sep 2020). */
export function clockKnown(): boolean {
  return Date.now() >= 1600000000000;
}

export const CLOCK_SOURCE = "host";

// Wall-clock time on the board: SNTP (Moddable's `sntp` module) once Wi-Fi is up, then Time.set.
// manifest.json maps "app-clock" to this file on esp32; same exports as app-clock.ts. Reports carry a
// `time` only once the clock is known, and the OneNET token needs no clock (fixed far-future `et`).

import SNTP from "sntp";
import Time from "time";
import config from "mc/config";
import { describe, info, warn } from "./log";

const DEFAULT_SERVER = "pool.ntp.org";
// One object rather than a `let` binding, so the module can be preloaded (see log.ts).
const sync = { busy: false };

/** Asks for the time (once per call); `done(true)` when the clock is set. Never throws. */
export function syncClock(done: (ok: boolean) => void): void {
  if (sync.busy) return;
  sync.busy = true;
  const host = typeof config.sntp === "string" && config.sntp !== "" ? config.sntp : DEFAULT_SERVER;
  try {
    let tries = 0;
    new SNTP({ host }, (message, value) => {
      if (message === SNTP.time && value !== undefined) {
        Time.set(value);
        sync.busy = false;
        info("time", "clock set by SNTP", { host, utc: new Date().toISOString() });
        done(true);
      } else if (message === SNTP.retry) {
        tries++;
      } else if (message === SNTP.error) {
        sync.busy = false;
        warn("time", "SNTP failed, reports go without time until the next try", { host, tries });
        done(false);
      }
    });
  } catch (e) {
    sync.busy = false;
    warn("time", "SNTP unavailable", { error: describe(e) });
    done(false);
  }
}

/** True once the wall clock holds a plausible time (after Sep 2020). */
export function clockKnown(): boolean {
  return Date.now() >= 1600000000000;
}

export const CLOCK_SOURCE = "sntp";

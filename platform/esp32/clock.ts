// Wall-clock time on the board: SNTP (Moddable's `sntp` module) once Wi-Fi is up, then Time.set.
// Reports carry a `time` only once the clock is known; so do expiring login tokens and TLS certificate
// checks (app/app.ts waits for it briefly after Wi-Fi).
import SNTP from "sntp";
import Time from "time";
import type { Clock, ClockOptions } from "../types";
import type { Logger } from "../../lib/log";

const DEFAULT_SERVER = "pool.ntp.org";

export default class SntpClock implements Clock {
  static readonly source = "sntp";
  readonly #server: string;
  readonly #log: Logger;
  #busy = false;

  constructor(options: ClockOptions) {
    this.#server = options.server ?? DEFAULT_SERVER;
    this.#log = options.log;
  }

  sync(done: (ok: boolean) => void): void {
    if (this.#busy) return;
    this.#busy = true;
    const host = this.#server;
    try {
      let tries = 0;
      new SNTP({ host }, (message, value) => {
        if (message === SNTP.time && value !== undefined) {
          Time.set(value);
          this.#busy = false;
          this.#log.log("INFO", "time", "clock set by SNTP", { host, utc: new Date().toISOString() });
          done(true);
        } else if (message === SNTP.retry) {
          tries++;
        } else if (message === SNTP.error) {
          this.#busy = false;
          this.#log.log("WARN", "time", "SNTP failed, reports go without time until the next try", { host, tries });
          done(false);
        }
      });
    } catch (e) {
      this.#busy = false;
      this.#log.log("WARN", "time", "SNTP unavailable", { error: e instanceof Error ? e.message : String(e) });
      done(false);
    }
  }
}

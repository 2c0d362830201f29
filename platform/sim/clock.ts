// Wall-clock time where the host already keeps it (the Moddable desktop simulators, `npm start`):
// nothing to fetch.
import type { Clock, ClockOptions } from "../types";
import type { Logger } from "../../lib/log";

export default class HostClock implements Clock {
  static readonly source = "host";
  readonly #log: Logger;

  constructor(options: ClockOptions) {
    this.#log = options.log;
  }

  sync(done: (ok: boolean) => void): void {
    this.#log.log("INFO", "time", "using the host clock", { utc: new Date().toISOString() });
    done(true);
  }
}

// The LED behind the writable `led` property where the build has no GPIO (the Moddable desktop
// simulators, `npm start`): the state is kept and logged, nothing is driven.
import type { Led, LedOptions } from "../types";
import type { Logger } from "../../lib/log";

export default class SimulatedLed implements Led {
  static readonly driver = "none";
  readonly #pin: number | undefined;
  readonly #log: Logger;
  #lit = false;

  constructor(options: LedOptions) {
    this.#pin = options.gpio;
    this.#log = options.log;
  }

  get lit(): boolean {
    return this.#lit;
  }

  set(on: boolean): boolean {
    if (this.#pin === undefined) return false;
    this.#lit = on;
    this.#log.log("INFO", "led", on ? "on" : "off", { pin: this.#pin, driven: false });
    return true;
  }
}

// The LED behind the writable `led` property on a board: a GPIO output through Moddable's `pins/digital`.
import Digital from "pins/digital";
import type { Led, LedOptions } from "../types";
import type { Logger } from "../../lib/log";

export default class DigitalLed implements Led {
  static readonly driver = "pins/digital";
  #pin: number | undefined;
  readonly #inverted: boolean;
  readonly #log: Logger;
  #lit = false;

  constructor(options: LedOptions) {
    this.#pin = options.gpio;
    this.#inverted = options.invert;
    this.#log = options.log;
    if (this.#pin === undefined) return;
    try {
      Digital.write(this.#pin, this.#inverted ? 1 : 0);
    } catch (e) {
      this.#log.log("WARN", "led", "cannot drive pin, LED disabled", { pin: this.#pin, error: e instanceof Error ? e.message : String(e) });
      this.#pin = undefined;
    }
  }

  get lit(): boolean {
    return this.#lit;
  }

  set(on: boolean): boolean {
    if (this.#pin === undefined) return false;
    Digital.write(this.#pin, on !== this.#inverted ? 1 : 0);
    this.#lit = on;
    this.#log.log("INFO", "led", on ? "on" : "off", { pin: this.#pin });
    return true;
  }
}

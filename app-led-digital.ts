// The LED behind the writable `led` property on a board: a GPIO output through Moddable's
// `pins/digital`. manifest.json maps the module specifier "app-led" to this file on esp32; it has the
// same exports as app-led.ts (test/app-config.test.ts checks the two agree).

import Digital from "pins/digital";
import { describe, info, warn } from "./log";

// One object rather than `let` bindings, so the module can be preloaded (see log.ts).
const led: { pin: number | undefined; inverted: boolean; lit: boolean } = { pin: undefined, inverted: false, lit: false };

/** Claims `gpio` for the LED (undefined: no LED on this board) and switches it off. */
export function openLed(gpio: number | undefined, invert: boolean): void {
  led.pin = gpio;
  led.inverted = invert;
  led.lit = false;
  if (led.pin === undefined) return;
  try {
    Digital.write(led.pin, led.inverted ? 1 : 0);
  } catch (e) {
    warn("led", "cannot drive pin, LED disabled", { pin: led.pin, error: describe(e) });
    led.pin = undefined;
  }
}

/** Switches the LED; returns false when there is no LED to switch. */
export function setLed(on: boolean): boolean {
  if (led.pin === undefined) return false;
  Digital.write(led.pin, on !== led.inverted ? 1 : 0);
  led.lit = on;
  info("led", on ? "on" : "off", { pin: led.pin });
  return true;
}

export function ledState(): boolean {
  return led.lit;
}

export const LED_DRIVER = "pins/digital";

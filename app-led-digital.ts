// The LED behind the writable `led` property on a board: a GPIO output through Moddable's
// `pins/digital`. manifest.json maps the module specifier "app-led" to this file on esp32; it has the
// same exports as app-led.ts (test/app-config.test.ts checks the two agree).

import Digital from "pins/digital";
import { describe, info, warn } from "./log";

let pin: number | undefined;
let inverted = false;
let lit = false;

/** Claims `gpio` for the LED (undefined: no LED on this board) and switches it off. */
export function openLed(gpio: number | undefined, invert: boolean): void {
  pin = gpio;
  inverted = invert;
  lit = false;
  if (pin === undefined) return;
  try {
    Digital.write(pin, inverted ? 1 : 0);
  } catch (e) {
    warn("led", "cannot drive pin, LED disabled", { pin, error: describe(e) });
    pin = undefined;
  }
}

/** Switches the LED; returns false when there is no LED to switch. */
export function setLed(on: boolean): boolean {
  if (pin === undefined) return false;
  Digital.write(pin, on !== inverted ? 1 : 0);
  lit = on;
  info("led", on ? "on" : "off", { pin });
  return true;
}

export function ledState(): boolean {
  return lit;
}

export const LED_DRIVER = "pins/digital";

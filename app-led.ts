// The LED behind the writable `led` property, where the build has no GPIO module (the Moddable desktop
// simulator, `npm start`): the state is kept and logged, nothing is driven. On the board, manifest.json
// maps the module specifier "app-led" to app-led-digital.ts instead, which has the same exports.

import { info } from "./log";

let pin: number | undefined;
let lit = false;

/** Claims `gpio` for the LED (undefined: no LED on this board) and switches it off. */
export function openLed(gpio: number | undefined, _invert: boolean): void {
  pin = gpio;
  lit = false;
}

/** Switches the LED; returns false when there is no LED to switch. */
export function setLed(on: boolean): boolean {
  if (pin === undefined) return false;
  lit = on;
  info("led", on ? "on" : "off", { pin, driven: false });
  return true;
}

export function ledState(): boolean {
  return lit;
}

export const LED_DRIVER = "none";

// The LED behind the writable `led` property, where the build has no GPIO module (the Moddable desktop
// simulator, `npm start`): the state is kept and logged, nothing is driven. On the board, manifest.json
// maps the module specifier "app-led" to app-led-digital.ts instead, which has the same exports.

import { info } from "./log";

// One object rather than `let` bindings, so the module can be preloaded (see log.ts).
const led: { pin: number | undefined; lit: boolean } = { pin: undefined, lit: false };

/** Claims `gpio` for the LED (undefined: no LED on this board) and switches it off. */
export function openLed(gpio: number | undefined, _invert: boolean): void {
  led.pin = gpio;
  led.lit = false;
}

/** Switches the LED; returns false when there is no LED to switch. */
export function setLed(on: boolean): boolean {
  if (led.pin === undefined) return false;
  led.lit = on;
  info("led", on ? "on" : "off", { pin: led.pin, driven: false });
  return true;
}

export function ledState(): boolean {
  return led.lit;
}

export const LED_DRIVER = "none";

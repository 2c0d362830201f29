// What every platform family provides, one role per module specifier. manifest.json maps each role
// (`platform/led`, `platform/clock`, `platform/i2c`, `platform/sensor`, `platform/flash`) to the file of the same name in the folder of
// the build's target: `platform/esp32/` on the board, `platform/sim/` in the Moddable desktop
// simulators (lin, mac). Under `npm start` and in tests the host runs the board's `platform/i2c` over
// its simulated bus (register-level chips) and the board's `platform/sensor` (none), with the
// simulator's LED and clock (tools/sim/specifiers.json).
//
// platform/conformance.ts makes the compiler check every folder against these shapes.
//
// Platform modules import only Moddable modules and types: a relative import in them would resolve
// against the role's name ("platform/led") in XS but against the file's folder in TypeScript.

import type { ExtraSensorClass, I2CClass } from "../drivers/sensor";
import type { Logger } from "../lib/log";
import type { FlashLike } from "../store/ring";

/** The LED behind the writable `led` property. */
export interface Led {
  /** The state last set (false at boot). */
  readonly lit: boolean;
  /** Switches the LED; false when there is no LED to switch. */
  set(on: boolean): boolean;
}

export interface LedOptions {
  /** GPIO of the LED; undefined when the board has none. */
  readonly gpio: number | undefined;
  /** True when the LED lights with the pin low. */
  readonly invert: boolean;
  readonly log: Logger;
}

export interface LedClass {
  new (options: LedOptions): Led;
  /** What drives it, for the boot line ("pins/digital", "none"). */
  readonly driver: string;
}

/** The wall clock: where it comes from, and whether it is set. */
export interface Clock {
  /**
   * Asks for the time (at most one request at once); `done(ok)` when the attempt ends. Never throws.
   * Whether the clock is now known is lib/time.ts's `epochKnown(Date.now())`, the one test of it.
   */
  sync(done: (ok: boolean) => void): void;
}

export interface ClockOptions {
  /** Time server (SNTP), when the platform asks one. */
  readonly server?: string;
  readonly log: Logger;
}

export interface ClockClass {
  new (options: ClockOptions): Clock;
  /** Where the time comes from, for the boot line ("sntp", "host"). */
  readonly source: string;
}

/** The ECMA-419 I2C class of the build, or undefined where the build has no I2C bus. */
export type I2CRole = I2CClass | undefined;

/**
 * An ECMA-419 sensor the platform provides besides what is found on the I2C bus, or undefined. The
 * desktop simulators have no I2C, so they provide a simulated thermometer, hygrometer and barometer
 * and report the full thing model; the board provides none (its sensors are on the bus).
 */
export type SensorRole = ExtraSensorClass | undefined;

/**
 * Opens a data partition by name (partitions.csv) for the readings log; throws when there is none.
 * The board's is its flash; the desktop simulators' a RAM model that a restart empties.
 */
export type FlashRole = (partition: string) => FlashLike;

/** The next OTA app slot (the shape onenet/ota.ts's OtaSlot port takes). */
export interface AppSlot {
  /** Bytes the slot holds. */
  readonly size: number;
  /** Opens the slot for an image of `size` bytes, written in order. */
  begin(size: number): void;
  write(bytes: ArrayBuffer): void;
  /** Ends the image and makes it the one booted next; throws when the image is refused. */
  complete(): void;
  /** Closes the slot without switching the boot image. */
  abort(): void;
}

/** The board's OTA parts (app/ota.ts): the next app slot, restart, and ending the rollback window. */
export interface OtaPlatform {
  readonly slot: AppSlot;
  /** Restarts the board (does not return on the board). */
  restart(): void;
  /** Marks the running image valid (ESP-IDF: no rollback at the next restart); false when refused. */
  markValid(): boolean;
}

/** Opens the OTA parts, or undefined where the platform has none (the desktop simulators). */
export type OtaRole = () => OtaPlatform | undefined;

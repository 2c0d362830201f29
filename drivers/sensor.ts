// What every sensor driver here shares: the ECMA-419 I/O and sensor-class shapes, a typed error, the
// CRC-8 used by Sensirion and Aosong parts, and `I2CSensor`, the base class of the I2C drivers.
//
// The drivers follow the ECMA-419 sensor class pattern (the one Moddable's modules/drivers/sensors use):
//   new Driver({sensor: {io: I2C, data, clock, address?, hz?, port?}})  -> opens its own I2C device
//   driver.configure(options) ; driver.sample() ; driver.close()
// A driver never imports an I/O module: the caller passes the I2C class in `sensor.io`, so the same
// driver runs on the board (embedded:io/i2c), in the simulators (our register-level chip models) and
// in tests.
import type I2C from "embedded:io/i2c";
import type { I2COptions } from "embedded:io/i2c";

// The I2C shapes are those of `embedded:io/i2c` as types/i2c.d.ts declares it (the one declaration):
// whatever class is passed in `sensor.io` must be assignable to Moddable's.
/** An open ECMA-419 I2C device. */
export type I2CDevice = I2C;
export type I2CDeviceOptions = I2COptions;
export type I2CClass = typeof I2C;

/** ECMA-419 `sensor` option of an I2C sensor: the I/O class plus the bus it sits on. */
export interface I2CSensorOptions {
  io: I2CClass;
  data: number;
  clock: number;
  address?: number;
  hz?: number;
  port?: number;
}

export interface SensorOptions {
  sensor: I2CSensorOptions;
}

/** ECMA-419 sample shapes (units: °C, %RH, Pa). */
export interface ThermometerSample {
  temperature: number;
}
export interface HygrometerSample {
  humidity: number;
}
export interface BarometerSample {
  pressure: number;
}
export interface Sample {
  thermometer?: ThermometerSample;
  hygrometer?: HygrometerSample;
  barometer?: BarometerSample;
}

export interface Sensor {
  configure(options: object): void;
  sample(): Sample;
  close(): void;
}

/**
 * A sensor that sits on no bus the app scans: platform/sensor's (the desktop simulator's). It samples
 * thermometer, hygrometer and barometer; `kind` names it in the logs ("simulated").
 */
export interface ExtraSensorClass {
  new (options: object): Sensor;
  readonly kind: string;
}

/**
 * Why a sensor operation failed:
 * - "io": the device did not acknowledge (absent, unplugged, bus fault);
 * - "identity": something answered but is not the expected chip;
 * - "crc": a checksum did not match, the data is discarded;
 * - "busy": the measurement did not complete in time;
 * - "range": a value outside what the chip can measure (a sign of a corrupt reading);
 * - "calibration": the chip reports it is not calibrated / has invalid calibration data.
 */
export type SensorFault = "io" | "identity" | "crc" | "busy" | "range" | "calibration";

export class SensorError extends Error {
  readonly fault: SensorFault;
  constructor(fault: SensorFault, message: string) {
    super(message);
    this.name = "SensorError";
    this.fault = fault;
  }
}

/**
 * CRC-8 with polynomial 0x31 (x^8 + x^5 + x^4 + 1), initial value 0xFF, no reflection, no final XOR:
 * Sensirion SHT3x datasheet section 4.12 (example: CRC(0xBEEF) = 0x92) and the Aosong AHT20 datasheet
 * (CRC of the six status and data bytes).
 */
export function crc8(bytes: Uint8Array, start: number, end: number): number {
  // A nibble at a time from a 16-entry table: on XS the bit loop cost ~200 computrons a byte.
  const table = CRC8_NIBBLE;
  let crc = 0xff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i];
    crc = ((crc << 4) & 0xff) ^ table[crc >> 4];
    crc = ((crc << 4) & 0xff) ^ table[crc >> 4];
  }
  return crc;
}

/** CRC-8 (poly 0x31) of each 4-bit value shifted into the top nibble: what 4 steps of the bit loop give. */
const CRC8_NIBBLE: readonly number[] = Object.freeze([0x00, 0x31, 0x62, 0x53, 0xc4, 0xf5, 0xa6, 0x97, 0xb9, 0x88, 0xdb, 0xea, 0x7d, 0x4c, 0x1f, 0x2e]);

/** The I2C device options for one address on the bus of an ECMA-419 `sensor` option. */
export function deviceOptions(sensor: I2CSensorOptions, address: number, hz: number): I2CDeviceOptions {
  const options: I2CDeviceOptions = { data: sensor.data, clock: sensor.clock, hz, address };
  if (sensor.port !== undefined) options.port = sensor.port;
  return options;
}

/** Closes a device, ignoring errors (a vanished device must not hide the error that matters). */
export function closeDevice(io: I2CDevice | undefined): void {
  if (!io) return;
  try {
    io.close();
  } catch {
    // ignored on purpose
  }
}

/**
 * The base of the I2C drivers: owns the device (opened from the `sensor` option with the chip's
 * default address and speed, closed by close()), and turns every failing transfer into a
 * SensorError("io") that names the chip and the step.
 */
export abstract class I2CSensor implements Sensor {
  readonly #chip: string;
  #io: I2CDevice | undefined;

  protected constructor(chip: string, sensor: I2CSensorOptions, address: number, hz: number) {
    this.#chip = chip;
    try {
      this.#io = new sensor.io(deviceOptions(sensor, sensor.address ?? address, sensor.hz ?? hz));
    } catch (error) {
      throw this.#ioError("open", error);
    }
  }

  configure(_options: object): void {}

  abstract sample(): Sample;

  close(): void {
    closeDevice(this.#io);
    this.#io = undefined;
  }

  /** Runs the chip's start-up sequence; on failure closes the device, so a failed open leaves nothing open. */
  protected setUp(initialize: () => void): void {
    try {
      initialize();
    } catch (error) {
      this.close();
      throw error;
    }
  }

  protected write(bytes: Uint8Array, what: string): void {
    this.transfer(bytes, undefined, what);
  }

  protected read(into: Uint8Array, what: string): void {
    this.transfer(undefined, into, what);
  }

  /**
   * One transaction: writes `command` (if any), then reads `into` (if any) after a repeated start,
   * e.g. a register address and its contents. `stop` is left out of a lone write rather than passed
   * as undefined, which Moddable's C reads as false.
   */
  protected transfer(command: Uint8Array | undefined, into: Uint8Array | undefined, what: string): void {
    const io = this.#live();
    try {
      if (command) {
        if (into) io.write(command, false);
        else io.write(command);
      }
      if (into) io.read(into);
    } catch (error) {
      throw this.#ioError(what, error);
    }
  }

  /** Throws SensorError(fault) unless bytes[end] is the CRC-8 of bytes[start..end). */
  protected checkCrc(bytes: Uint8Array, start: number, end: number, fault: SensorFault, what: string): void {
    if (crc8(bytes, start, end) !== bytes[end]) throw this.error(fault, `${what} CRC mismatch`);
  }

  protected error(fault: SensorFault, message: string): SensorError {
    return new SensorError(fault, `${this.#chip}: ${message}`);
  }

  #live(): I2CDevice {
    const io = this.#io;
    if (!io) throw this.error("io", "closed");
    return io;
  }

  #ioError(what: string, error: unknown): SensorError {
    const detail = error instanceof Error ? error.message : String(error);
    return this.error("io", `${what} failed (${detail})`);
  }
}

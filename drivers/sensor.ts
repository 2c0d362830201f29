// What every sensor driver here shares: the ECMA-419 I/O and sensor-class shapes, a typed error and
// the CRC-8 used by Sensirion and Aosong parts.
//
// The drivers follow the ECMA-419 sensor class pattern (the one Moddable's modules/drivers/sensors use):
//   new Driver({sensor: {io: I2C, data, clock, address?, hz?, port?}})  -> opens its own I2C device
//   driver.configure(options) ; driver.sample() ; driver.close()
// A driver never imports an I/O module: the caller passes the I2C class in `sensor.io`, so the same
// driver runs on the board (embedded:io/i2c), in the simulators (our register-level chip models) and
// in tests.

/** The part of an ECMA-419 I2C instance (embedded:io/i2c) the drivers use. */
export interface I2CDevice {
  read(count: number, stop?: boolean): ArrayBuffer;
  read<T extends ArrayBuffer | Uint8Array>(buffer: T, stop?: boolean): T;
  /** Throws when a non-empty write is not acknowledged; a zero-length write returns 1 on NACK. */
  write(buffer: ArrayBuffer | Uint8Array, stop?: boolean): number | undefined;
  close(): void;
}

export interface I2CDeviceOptions {
  data: number;
  clock: number;
  hz: number;
  address: number;
  port?: number;
}

export type I2CClass = new (options: I2CDeviceOptions) => I2CDevice;

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

/** Normalises whatever a failing I2C call threw into a SensorError of kind "io". */
export function ioError(chip: string, what: string, error: unknown): SensorError {
  if (error instanceof SensorError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new SensorError("io", `${chip}: ${what} failed (${detail})`);
}

/**
 * CRC-8 with polynomial 0x31 (x^8 + x^5 + x^4 + 1), initial value 0xFF, no reflection, no final XOR:
 * Sensirion SHT3x datasheet section 4.12 (example: CRC(0xBEEF) = 0x92) and the Aosong AHT20 datasheet
 * (CRC of the six status and data bytes).
 */
export function crc8(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0xff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i];
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80 ? ((crc << 1) ^ 0x31) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** Opens the chip's I2C device from the ECMA-419 `sensor` option, with the chip's defaults. */
export function openDevice(chip: string, sensor: I2CSensorOptions, address: number, hz: number): I2CDevice {
  const options: I2CDeviceOptions = {
    data: sensor.data,
    clock: sensor.clock,
    hz: sensor.hz ?? hz,
    address: sensor.address ?? address,
  };
  if (sensor.port !== undefined) options.port = sensor.port;
  try {
    return new sensor.io(options);
  } catch (error) {
    throw ioError(chip, "open", error);
  }
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

// Sensor autodetection and the mapping of samples to OneNET thing-model properties.
//
// detect(): probes the known addresses on the configured I2C bus (AHT20 0x38, SHT3x 0x44/0x45,
// BMP280 0x76/0x77) with a zero-length write (the standard bus scan: an absent address NACKs), then
// opens the driver for each address that answered; the driver's own identity check (AHT20 status,
// SHT3x status CRC, BMP280 chip id) decides. A board with no sensor is fine: no properties. Every
// `rescanEvery` reads the addresses not in use are probed again (a sensor connected after boot).
//
// read(): samples every sensor and fills `temp` (°C), `humi` (%RH), `press` (hPa), each from one
// designated source (temperature and humidity from the humidity sensor when there is one, else the
// BMP280's temperature; pressure from the BMP280). A failing sensor is logged and retried on the next
// read; its properties are omitted from that report, never filled from a stale or wrong value. After
// an I/O error (NACK, unplugged) or three consecutive failures the driver is closed and reopened on
// the next read, so a re-plugged sensor is re-initialised.
//
// The I2C class comes in as an option (ECMA-419 style): on the board and under `npm start` it is
// `embedded:io/i2c` (see ./i2c-io); the Moddable desktop simulators (lin, mac) have no I2C, so a build
// for them maps ./i2c-io to ./i2c-none and the app reports board data only.
import AHT20, { AHT20_ADDRESS } from "./aht20";
import SHT3x from "./sht3x";
import BMP280 from "./bmp280";
import { closeDevice, SensorError, type I2CClass, type I2CDevice, type Sample, type Sensor, type SensorOptions } from "./sensor";
import { describe, SILENT, type Logger } from "../lib/log";

export type SensorKind = "aht20" | "sht3x" | "bmp280";

/** The properties this module reports. Absent = not measured in this round. */
export interface SensorReadings {
  temp?: number;
  humi?: number;
  press?: number;
}

export interface SensorsOptions {
  /** Where the driver logs (default: nowhere). */
  log?: Logger;
  /** I2C data (SDA) and clock (SCL) pins (config `sda`, `scl`); absent: the board default. */
  data?: number;
  clock?: number;
  hz?: number;
  port?: number;
  /** The ECMA-419 I2C class (./i2c-io: embedded:io/i2c); undefined on a build without I2C. */
  io: I2CClass | undefined;
  /** Consecutive failures after which a driver is closed and reopened (default 3). */
  reopenAfter?: number;
  /**
   * Every this many reads, probe the addresses not in use again, so a sensor connected after boot is
   * picked up (default 30, i.e. 5 minutes at a 10 s report interval; 0 disables).
   */
  rescanEvery?: number;
}

interface Candidate {
  kind: SensorKind;
  address: number;
}

/** Probe order: humidity sensors first, they are the preferred temperature source. */
export const CANDIDATES: readonly Candidate[] = [
  { kind: "aht20", address: AHT20_ADDRESS },
  { kind: "sht3x", address: 0x44 },
  { kind: "sht3x", address: 0x45 },
  { kind: "bmp280", address: 0x76 },
  { kind: "bmp280", address: 0x77 },
];

type Role = "temp" | "humi" | "press";

/** ESP32 DevKit wiring (GPIO 21 SDA, GPIO 22 SCL), the usual default of ESP32 boards. */
export const ESP32_I2C_PINS = { data: 21, clock: 22 } as const;

type Device = { I2C?: { default?: { data?: unknown; clock?: unknown } } };

/**
 * The board's default I2C pins: the ECMA-419 host provider's `device.I2C.default` when the build has
 * one (Moddable board definitions set it per board), else GPIO 21/22.
 */
export function defaultI2CPins(): { data: number; clock: number } {
  const bus = (globalThis as { device?: Device }).device?.I2C?.default;
  if (bus && typeof bus.data === "number" && typeof bus.clock === "number") return { data: bus.data, clock: bus.clock };
  return { data: ESP32_I2C_PINS.data, clock: ESP32_I2C_PINS.clock };
}

export interface SensorState {
  readonly kind: SensorKind;
  readonly address: number;
  /** Properties this sensor is the designated source of. */
  readonly roles: Role[];
  /** Position in CANDIDATES (probe and preference order). */
  readonly rank: number;
  /** The driver's constructor options (the bus plus this address). */
  readonly options: SensorOptions;
  driver: Sensor | undefined;
  failures: number;
  lastFault: string | undefined;
  samples: number;
}

const EMPTY = new Uint8Array(0);

export function hex(address: number): string {
  return "0x" + (address < 16 ? "0" : "") + address.toString(16);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export default class Sensors {
  readonly #options: SensorOptions | undefined;
  readonly #reopenAfter: number;
  readonly #sensors: SensorState[] = [];
  readonly #rejected: number[] = [];
  readonly #rescanEvery: number;
  #reads = 0;
  readonly #log: Logger;

  constructor(options: SensorsOptions) {
    this.#log = options.log ?? SILENT;
    const pins = defaultI2CPins();
    const data = options.data ?? pins.data;
    const clock = options.clock ?? pins.clock;
    if (!Number.isInteger(data) || data < 0) throw new TypeError("sensors: data (sda) must be a GPIO number");
    if (!Number.isInteger(clock) || clock < 0) throw new TypeError("sensors: clock (scl) must be a GPIO number");
    this.#reopenAfter = options.reopenAfter ?? 3;
    this.#rescanEvery = options.rescanEvery ?? 30;
    if (options.io) {
      const sensor: SensorOptions["sensor"] = { io: options.io, data, clock };
      if (options.hz !== undefined) sensor.hz = options.hz;
      if (options.port !== undefined) sensor.port = options.port;
      this.#options = { sensor };
    }
  }

  /** The sensors found by detect(). */
  get sensors(): readonly SensorState[] {
    return this.#sensors;
  }

  /** Probes the bus and opens every sensor found. Returns what was found, e.g. ["aht20@0x38"]. */
  detect(): string[] {
    this.close();
    this.#rejected.length = 0;
    const options = this.#options;
    if (!options) {
      this.#log.log("WARN", "sensors", "no I2C on this build; reporting board data only");
      return [];
    }
    this.#scan(options);
    const names = this.names();
    const sensor = options.sensor;
    if (names.length) this.#log.log("INFO", "sensors", "found", { sensors: names.join(","), sda: sensor.data, scl: sensor.clock });
    else this.#log.log("WARN", "sensors", "no sensor found; reporting board data only", { sda: sensor.data, scl: sensor.clock });
    return names;
  }

  /** The sensors in use, e.g. ["aht20@0x38", "bmp280@0x76"]. */
  names(): string[] {
    return this.#sensors.map((s) => `${s.kind}@${hex(s.address)}`);
  }

  /** Probes the candidate addresses not in use yet; returns how many sensors were added. */
  #scan(options: SensorOptions): number {
    const sensors = this.#sensors;
    let added = 0;
    for (let rank = 0; rank < CANDIDATES.length; rank++) {
      const candidate = CANDIDATES[rank];
      const address = candidate.address;
      if (this.#rejected.indexOf(address) >= 0 || sensors.some((s) => s.address === address)) continue;
      if (!this.#answers(options, address)) continue;
      let driver: Sensor;
      const own: SensorOptions = { sensor: { ...options.sensor, address } };
      try {
        driver = open(candidate.kind, own);
      } catch (error) {
        // Something else lives there (e.g. a touch controller at 0x38): remember, do not retry.
        this.#rejected.push(address);
        this.#log.log("WARN", "sensors", "device answers but is not usable", { address: hex(address), as: candidate.kind, error: describe(error) });
        continue;
      }
      sensors.push({ kind: candidate.kind, address, rank, roles: [], options: own, driver, failures: 0, lastFault: undefined, samples: 0 });
      added++;
    }
    if (added) {
      sensors.sort((a, b) => a.rank - b.rank);
      // Designate one source per property: a humidity sensor measures the air best (the BMP280's
      // temperature is its die's); pressure from the BMP280.
      for (const s of sensors) s.roles.length = 0;
      const humidity = sensors.find((s) => s.kind !== "bmp280");
      const barometer = sensors.find((s) => s.kind === "bmp280");
      if (humidity) humidity.roles.push("temp", "humi");
      else if (barometer) barometer.roles.push("temp");
      if (barometer) barometer.roles.push("press");
    }
    return added;
  }

  /**
   * Samples every sensor into `into` (temp, humi, press), deleting the properties that could not be
   * measured this time. Never throws.
   */
  read(into: SensorReadings = {}): SensorReadings {
    delete into.temp;
    delete into.humi;
    delete into.press;
    const options = this.#options;
    if (options && this.#rescanEvery > 0 && ++this.#reads % this.#rescanEvery === 0 && this.#scan(options) > 0) {
      this.#log.log("INFO", "sensors", "found after boot", { sensors: this.names().join(",") });
    }
    const sensors = this.#sensors;
    for (let i = 0; i < sensors.length; i++) {
      const s = sensors[i];
      const sample = this.#sample(s);
      if (!sample) continue;
      const roles = s.roles;
      for (let r = 0; r < roles.length; r++) {
        const role = roles[r];
        if (role === "temp") {
          const t = sample.thermometer?.temperature;
          if (t !== undefined && t >= -40 && t <= 125) into.temp = round2(t);
        } else if (role === "humi") {
          const h = sample.hygrometer?.humidity;
          if (h !== undefined && h >= 0 && h <= 100) into.humi = round2(h);
        } else {
          const p = sample.barometer?.pressure;
          if (p !== undefined && p >= 30000 && p <= 110000) into.press = round2(p / 100);
        }
      }
    }
    return into;
  }

  close(): void {
    for (const s of this.#sensors) {
      s.driver?.close();
      s.driver = undefined;
    }
    this.#sensors.length = 0;
  }

  #answers(options: SensorOptions, address: number): boolean {
    const sensor = options.sensor;
    let device: I2CDevice | undefined;
    try {
      const probe: { data: number; clock: number; hz: number; address: number; port?: number } = {
        data: sensor.data,
        clock: sensor.clock,
        hz: sensor.hz ?? 100_000,
        address,
      };
      if (sensor.port !== undefined) probe.port = sensor.port;
      device = new sensor.io(probe);
      return device.write(EMPTY) === undefined;
    } catch {
      return false;
    } finally {
      closeDevice(device);
    }
  }

  #sample(s: SensorState): Sample | undefined {
    try {
      if (!s.driver) s.driver = open(s.kind, s.options);
      const sample = s.driver.sample();
      if (s.failures > 0) this.#log.log("INFO", "sensors", "recovered", { sensor: s.kind, address: hex(s.address), failures: s.failures });
      s.failures = 0;
      s.lastFault = undefined;
      s.samples++;
      return sample;
    } catch (error) {
      const fault = error instanceof SensorError ? error.fault : "error";
      s.failures++;
      const fields = { sensor: s.kind, address: hex(s.address), fault, failures: s.failures, error: describe(error) };
      // One warning per change of fault; repeats go to DEBUG so a dead sensor does not flood the log.
      if (s.lastFault !== fault) this.#log.log("WARN", "sensors", "sample failed; properties omitted", fields);
      else this.#log.log("DEBUG", "sensors", "sample failed again", fields);
      s.lastFault = fault;
      if (fault === "io" || fault === "error" || s.failures >= this.#reopenAfter) {
        s.driver?.close();
        s.driver = undefined;
      }
      return undefined;
    }
  }
}

function open(kind: SensorKind, options: SensorOptions): Sensor {
  if (kind === "aht20") return new AHT20(options);
  if (kind === "sht3x") return new SHT3x(options);
  return new BMP280(options);
}

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
// The I2C class comes in as an option (ECMA-419 style): platform/i2c, `embedded:io/i2c` on the board
// and under `npm start`, undefined on the Moddable desktop simulators (lin, mac), which have no I2C.
// Those pass platform/sensor's simulated sensor as `extra` instead: it is opened, sampled, logged and
// reopened like a chip, after the chips in preference order, and fills what no chip measures.
import AHT20, { AHT20_ADDRESS } from "./aht20";
import SHT3x from "./sht3x";
import BMP280 from "./bmp280";
import {
  closeDevice,
  deviceOptions,
  SensorError,
  type ExtraSensorClass,
  type I2CClass,
  type I2CDevice,
  type Sample,
  type Sensor,
  type SensorOptions,
} from "./sensor";
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
  /** The ECMA-419 I2C class (platform/i2c: embedded:io/i2c); undefined on a build without I2C. */
  io: I2CClass | undefined;
  /** A sensor off the bus (platform/sensor: the desktop simulator's); undefined where there is none. */
  extra?: ExtraSensorClass | undefined;
  /** Consecutive failures after which a driver is closed and reopened (default 3). */
  reopenAfter?: number;
  /**
   * Every this many reads, probe the addresses not in use again, so a sensor connected after boot is
   * picked up (default 30, i.e. 5 minutes at a 10 s report interval; 0 disables).
   */
  rescanEvery?: number;
}

type ChipClass = new (options: SensorOptions) => Sensor;

interface Candidate {
  readonly kind: SensorKind;
  readonly address: number;
  readonly driver: ChipClass;
}

/** Probe order: humidity sensors first, they are the preferred temperature source. */
export const CANDIDATES: readonly Candidate[] = [
  { kind: "aht20", address: AHT20_ADDRESS, driver: AHT20 },
  { kind: "sht3x", address: 0x44, driver: SHT3x },
  { kind: "sht3x", address: 0x45, driver: SHT3x },
  { kind: "bmp280", address: 0x76, driver: BMP280 },
  { kind: "bmp280", address: 0x77, driver: BMP280 },
];

type Role = "temp" | "humi" | "press";

/** What each kind measures; the extra sensor measures all three. */
const MEASURES: { readonly [kind in SensorKind]: readonly Role[] } = {
  aht20: ["temp", "humi"],
  sht3x: ["temp", "humi"],
  bmp280: ["temp", "press"],
};
const EVERYTHING: readonly Role[] = ["temp", "humi", "press"];

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

/** How a sensor is (re)opened: a chip from its bus options, the extra sensor from its class. */
export type SensorSource =
  | { readonly chip: ChipClass; readonly options: SensorOptions }
  | { readonly chip: undefined; readonly extra: ExtraSensorClass };

export interface SensorState {
  /** "aht20", "sht3x", "bmp280", or the extra sensor's kind ("simulated"). */
  readonly kind: string;
  /** I2C address; undefined for the extra sensor. */
  readonly address: number | undefined;
  /** Properties this sensor is the designated source of. */
  readonly roles: Role[];
  /** What it measures. */
  readonly measures: readonly Role[];
  /** Preference order: position in CANDIDATES; the extra sensor comes after every chip. */
  readonly rank: number;
  readonly source: SensorSource;
  driver: Sensor | undefined;
  failures: number;
  lastFault: string | undefined;
  samples: number;
}

const EMPTY = new Uint8Array(0);
const NO_OPTIONS = Object.freeze({});

export function hex(address: number): string {
  return "0x" + (address < 16 ? "0" : "") + address.toString(16);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function nameOf(s: SensorState): string {
  return s.address === undefined ? s.kind : `${s.kind}@${hex(s.address)}`;
}

function openSource(source: SensorSource): Sensor {
  return source.chip ? new source.chip(source.options) : new source.extra(NO_OPTIONS);
}

export default class Sensors {
  readonly #options: SensorOptions | undefined;
  readonly #extra: ExtraSensorClass | undefined;
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
    this.#extra = options.extra;
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

  /**
   * Probes the bus, opens every sensor found and the extra sensor. Returns what was found, e.g.
   * ["aht20@0x38", "bmp280@0x76"], or ["simulated"] on the desktop simulator.
   */
  detect(): string[] {
    this.close();
    this.#rejected.length = 0;
    const options = this.#options;
    if (options) this.#scan(options);
    const extra = this.#extra;
    if (extra) {
      try {
        const driver = new extra(NO_OPTIONS);
        this.#sensors.push({
          kind: extra.kind, address: undefined, rank: CANDIDATES.length, roles: [], measures: EVERYTHING,
          source: { chip: undefined, extra }, driver, failures: 0, lastFault: undefined, samples: 0,
        });
      } catch (error) {
        this.#log.log("WARN", "sensors", "cannot open", { sensor: extra.kind, error: describe(error) });
      }
    }
    this.#designate();
    const names = this.names();
    const sensor = options?.sensor;
    const bus = { sda: sensor?.data, scl: sensor?.clock };
    if (names.length) this.#log.log("INFO", "sensors", "found", { sensors: names.join(","), ...bus });
    else if (!options) this.#log.log("WARN", "sensors", "no I2C on this build; reporting board data only");
    else this.#log.log("WARN", "sensors", "no sensor found; reporting board data only", bus);
    return names;
  }

  /** The sensors in use, e.g. ["aht20@0x38", "bmp280@0x76"]. */
  names(): string[] {
    return this.#sensors.map(nameOf);
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
      const source: SensorSource = { chip: candidate.driver, options: { sensor: { ...options.sensor, address } } };
      let driver: Sensor;
      try {
        driver = openSource(source);
      } catch (error) {
        // Something else lives there (e.g. a touch controller at 0x38): remember, do not retry.
        this.#rejected.push(address);
        this.#log.log("WARN", "sensors", "device answers but is not usable", { address: hex(address), as: candidate.kind, error: describe(error) });
        continue;
      }
      const measures = MEASURES[candidate.kind];
      sensors.push({ kind: candidate.kind, address, rank, roles: [], measures, source, driver, failures: 0, lastFault: undefined, samples: 0 });
      added++;
    }
    return added;
  }

  /**
   * One source per property, in preference order: humidity from the first hygrometer, temperature
   * from that same sensor (a humidity sensor measures the air; the BMP280's temperature is its die's),
   * else from the first thermometer; pressure from the first barometer.
   */
  #designate(): void {
    const sensors = this.#sensors;
    sensors.sort((a, b) => a.rank - b.rank);
    for (const s of sensors) s.roles.length = 0;
    const humidity = sensors.find((s) => s.measures.includes("humi"));
    const temperature = humidity ?? sensors.find((s) => s.measures.includes("temp"));
    const pressure = sensors.find((s) => s.measures.includes("press"));
    if (humidity) humidity.roles.push("humi");
    if (temperature) temperature.roles.push("temp");
    if (pressure) pressure.roles.push("press");
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
      this.#designate();
      this.#log.log("INFO", "sensors", "found after boot", { sensors: this.names().join(",") });
    }
    const sensors = this.#sensors;
    for (let i = 0; i < sensors.length; i++) {
      const s = sensors[i];
      const roles = s.roles;
      // A sensor every property of which another one supplies is left alone.
      if (roles.length === 0) continue;
      const sample = this.#sample(s);
      if (!sample) continue;
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
      device = new sensor.io(deviceOptions(sensor, address, sensor.hz ?? 100_000));
      return device.write(EMPTY) === undefined;
    } catch {
      return false;
    } finally {
      closeDevice(device);
    }
  }

  #sample(s: SensorState): Sample | undefined {
    try {
      if (!s.driver) s.driver = openSource(s.source);
      const sample = s.driver.sample();
      if (s.failures > 0) this.#log.log("INFO", "sensors", "recovered", { sensor: nameOf(s), failures: s.failures });
      s.failures = 0;
      s.lastFault = undefined;
      s.samples++;
      return sample;
    } catch (error) {
      const fault = error instanceof SensorError ? error.fault : "error";
      s.failures++;
      const fields = { sensor: nameOf(s), fault, failures: s.failures, error: describe(error) };
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

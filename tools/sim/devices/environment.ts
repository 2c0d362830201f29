// The scripted environment the simulated sensors measure: temperature, relative humidity and
// pressure that drift plausibly over the day, as a pure function of a seed and the time, so a
// simulated run is reproducible (same seed and clock, same readings).
//
// - Temperature: daily cycle (coolest near 05:00, warmest near 15:00 local time) plus slow smooth
//   noise (value noise over 20-minute knots) and a faster small ripple.
// - Humidity: moves against temperature (warm afternoon air is relatively drier), with its own noise.
// - Pressure: a slow synoptic swing over a few days, the semidiurnal atmospheric tide (~±1 hPa,
//   peaks near 10:00 and 22:00) and small noise.
// Written like firmware (no Node API).

export interface Conditions {
  /** °C */
  temperature: number;
  /** %RH, 0..100 */
  humidity: number;
  /** Pa */
  pressure: number;
}

export interface EnvironmentOptions {
  seed?: number;
  /** Local time offset for the daily cycle (China Standard Time: 8). */
  utcOffsetHours?: number;
  meanTemperature?: number;
  /** Half the day-night temperature difference. */
  temperatureSwing?: number;
  meanHumidity?: number;
  /** Mean station pressure in Pa. */
  meanPressure?: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A 32-bit integer hash of (seed, channel, index), mapped to [-1, 1). */
function hashNoise(seed: number, channel: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(channel + 1, 0xc2b2ae35) ^ Math.imul(index | 0, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39);
  h ^= h >>> 15;
  return (h >>> 0) / 2147483648 - 1;
}

/** Smooth value noise in [-1, 1]: cosine interpolation between hashed knots `period` ms apart. */
function smoothNoise(seed: number, channel: number, t: number, period: number): number {
  const x = t / period;
  const i = Math.floor(x);
  const f = x - i;
  const w = (1 - Math.cos(f * Math.PI)) / 2;
  // The index wraps at 2^31 knots: far beyond any run.
  return hashNoise(seed, channel, i) * (1 - w) + hashNoise(seed, channel, i + 1) * w;
}

export class Environment {
  readonly seed: number;
  readonly utcOffsetHours: number;
  readonly meanTemperature: number;
  readonly temperatureSwing: number;
  readonly meanHumidity: number;
  readonly meanPressure: number;
  /** Values forced by tests or controls ("env temperature 30"); they replace the scripted value. */
  readonly override: Partial<Conditions> = {};

  constructor(options: EnvironmentOptions = {}) {
    this.seed = (options.seed ?? 1) | 0;
    this.utcOffsetHours = options.utcOffsetHours ?? 8;
    this.meanTemperature = options.meanTemperature ?? 22;
    this.temperatureSwing = options.temperatureSwing ?? 4;
    this.meanHumidity = options.meanHumidity ?? 55;
    this.meanPressure = options.meanPressure ?? 101_325;
  }

  /** Conditions at `epochMs` (ms since 1970 UTC). */
  at(epochMs: number, out?: Conditions): Conditions {
    const result = out ?? { temperature: 0, humidity: 0, pressure: 0 };
    const local = epochMs + this.utcOffsetHours * HOUR;
    const dayPhase = (((local % DAY) + DAY) % DAY) / DAY; // 0 at local midnight
    const seed = this.seed;

    const diurnal = -Math.cos(2 * Math.PI * (dayPhase - 15 / 24 + 0.5)); // +1 at 15:00, -1 at 03:00
    const warmth = diurnal + 0.08 * Math.cos(4 * Math.PI * (dayPhase - 15 / 24)); // skews the minimum towards dawn
    const tNoise = 0.6 * smoothNoise(seed, 0, epochMs, 20 * 60_000) + 0.1 * smoothNoise(seed, 1, epochMs, 90_000);
    const temperature = this.meanTemperature + this.temperatureSwing * warmth + tNoise;

    const hNoise = 2.5 * smoothNoise(seed, 2, epochMs, 25 * 60_000) + 0.3 * smoothNoise(seed, 3, epochMs, 120_000);
    let humidity = this.meanHumidity - 2.8 * (temperature - this.meanTemperature) + hNoise;
    humidity = Math.min(98, Math.max(5, humidity));

    const synoptic = 600 * smoothNoise(seed, 4, epochMs, 36 * HOUR);
    const tide = 100 * Math.cos(4 * Math.PI * (dayPhase - 10 / 24));
    const pressure = this.meanPressure + synoptic + tide + 5 * smoothNoise(seed, 5, epochMs, 60_000);

    const o = this.override;
    result.temperature = o.temperature ?? temperature;
    result.humidity = o.humidity ?? humidity;
    result.pressure = o.pressure ?? pressure;
    return result;
  }

  /**
   * Control command: "temperature 30", "humidity 80", "pressure 99000" force a value; "release"
   * (or "release temperature") returns to the script; "status" describes the state.
   */
  command(arg: string, epochMs: number): string {
    const words = arg.trim().split(/\s+/);
    const name = words[0];
    if (name === "temperature" || name === "humidity" || name === "pressure") {
      const value = Number(words[1]);
      if (!Number.isFinite(value)) throw new RangeError(`env: ${name} needs a number`);
      this.override[name] = value;
    } else if (name === "release") {
      const which = words[1];
      if (which === "temperature" || which === "humidity" || which === "pressure") delete this.override[which];
      else {
        delete this.override.temperature;
        delete this.override.humidity;
        delete this.override.pressure;
      }
    } else if (name !== "status" && name !== "") {
      throw new RangeError(`env: unknown command "${arg}" (temperature N, humidity N, pressure N, release [name], status)`);
    }
    const c = this.at(epochMs);
    return `env seed=${this.seed} temperature=${c.temperature.toFixed(2)} humidity=${c.humidity.toFixed(2)} pressure=${c.pressure.toFixed(0)}`;
  }
}

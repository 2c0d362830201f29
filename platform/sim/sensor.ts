// A thermometer, hygrometer and barometer for the Moddable desktop simulators (lin, mac). They have no
// I2C bus, so without this sensor a simulator build would report board data only and temp, humi and
// press would never be seen off the board.
//
// The values are a pure function of the wall-clock time, so two runs at the same moment agree and a
// test can pin them: a day cycle (warmest and driest at 15:00 local time, coolest at 03:00), a
// semidiurnal pressure tide (highs near 10:00 and 22:00, as the real one), and slower swells over a
// few days so one day is not a copy of the last. Everything drifts by a few hundredths of a degree, a
// tenth of a percent and about one pascal per minute at most, well inside the thing model's ranges.
//
// Self-contained on purpose: a platform module may import only types relatively (XS would resolve a
// relative value import against the role name "platform/sensor").
import type { Sample, Sensor } from "../../drivers/sensor";

export interface SimulatedSensorOptions {
  /** Milliseconds since the epoch (default Date.now()); tests pass their own clock. */
  readonly now?: () => number;
}

const DAY_MS = 86_400_000;
const TAU = 2 * Math.PI;

/** Mean values and how far each component swings (°C, %RH, Pa). */
const TEMPERATURE = 22;
const TEMPERATURE_DAY = 4;
const TEMPERATURE_SWELL = 1.5;
const HUMIDITY = 55;
const HUMIDITY_DAY = 12;
const HUMIDITY_SWELL = 5;
const PRESSURE = 101_325;
const PRESSURE_TIDE = 60;
const PRESSURE_SWELL = 700;

export default class SimulatedSensor implements Sensor {
  static readonly kind: string = "simulated";
  readonly #now: (() => number) | undefined;
  readonly #date = new Date(0);
  #open = true;

  constructor(options: SimulatedSensorOptions = {}) {
    this.#now = options.now;
  }

  configure(_options: object): void {}

  close(): void {
    this.#open = false;
  }

  sample(): Sample {
    if (!this.#open) throw new Error("simulated: closed");
    const now = this.#now ? this.#now() : Date.now();
    this.#date.setTime(now);
    const local = now - this.#date.getTimezoneOffset() * 60_000;
    const hours = (((local % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000;
    const days = now / DAY_MS;
    const daily = Math.sin((TAU * (hours - 9)) / 24); // +1 at 15:00, -1 at 03:00
    const temperature = TEMPERATURE + TEMPERATURE_DAY * daily + TEMPERATURE_SWELL * Math.sin((TAU * days) / 3.7);
    const humidity = HUMIDITY - HUMIDITY_DAY * daily + HUMIDITY_SWELL * Math.sin((TAU * days) / 2.9 + 1);
    const pressure = PRESSURE + PRESSURE_TIDE * Math.cos((TAU * (hours - 10)) / 12) + PRESSURE_SWELL * Math.sin((TAU * days) / 5.3 + 2);
    return { thermometer: { temperature }, hygrometer: { humidity }, barometer: { pressure } };
  }
}

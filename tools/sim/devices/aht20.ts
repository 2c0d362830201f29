// Register-level model of the Aosong AHT20 (I2C 0x38), as its datasheet (v1.1) describes it:
// - reading returns the status byte (bit 7 busy, bit 3 calibration enabled), then the last
//   measurement (20-bit humidity, 20-bit temperature) and a CRC-8 (0x31, init 0xFF) over the six bytes;
// - 0xBE 0x08 0x00 initialises (sets the calibration bit); 0xAC 0x33 0x00 triggers a measurement that
//   takes 80 ms (busy meanwhile); 0xBA soft-resets.
// Faults: NACK, bad CRC, stuck busy bit, unplug (coming back uncalibrated if so configured).
import { crcOver, SimChip } from "./i2c-bus.ts";
import type { Conditions } from "./environment.ts";

export const AHT20_MEASURE_MS = 80;

export interface AHT20ModelOptions {
  /** Whether the calibration bit is set at power-on (most parts: yes). Default true. */
  calibratedAtPowerOn?: boolean;
}

/** Raw 20-bit values for physical ones (inverse of datasheet section 6), clamped to the code range. */
export function aht20Raw(temperature: number, humidity: number): { rawT: number; rawH: number } {
  const clamp = (v: number) => Math.min(0xfffff, Math.max(0, Math.round(v)));
  return { rawH: clamp((humidity / 100) * 1048576), rawT: clamp(((temperature + 50) / 200) * 1048576) };
}

export class AHT20Model extends SimChip {
  readonly #conditions: () => Conditions;
  readonly #calibratedAtPowerOn: boolean;
  #calibrated = true;
  #busyUntil = -1;
  #measuring = false;
  readonly #reply = new Uint8Array(7);
  /** Counts for tests. */
  measurements = 0;
  initialisations = 0;

  constructor(now: () => number, conditions: () => Conditions, options: AHT20ModelOptions = {}) {
    super("aht20", now);
    this.#conditions = conditions;
    this.#calibratedAtPowerOn = options.calibratedAtPowerOn ?? true;
    this.powerOn();
  }

  get calibrated(): boolean {
    return this.#calibrated;
  }

  protected powerOn(): void {
    this.#calibrated = this.#calibratedAtPowerOn;
    this.#busyUntil = -1;
    this.#measuring = false;
    this.#reply.fill(0);
  }

  #busy(): boolean {
    if (!this.#measuring) return false;
    if (this.faults.stuckBusy || this.now() < this.#busyUntil) return true;
    // Measurement done: latch the result.
    this.#measuring = false;
    const c = this.#conditions();
    const { rawT, rawH } = aht20Raw(c.temperature, c.humidity);
    const r = this.#reply;
    r[1] = rawH >> 12;
    r[2] = (rawH >> 4) & 0xff;
    r[3] = ((rawH & 0x0f) << 4) | (rawT >> 16);
    r[4] = (rawT >> 8) & 0xff;
    r[5] = rawT & 0xff;
    this.measurements++;
    return false;
  }

  protected onWrite(bytes: Uint8Array): boolean {
    if (bytes.length === 0) return true; // probe
    const command = bytes[0];
    if (command === 0xbe && bytes.length >= 3) {
      this.#calibrated = true;
      this.initialisations++;
    } else if (command === 0xac && bytes.length >= 3 && bytes[1] === 0x33) {
      if (!this.#busy()) {
        this.#measuring = true;
        this.#busyUntil = this.now() + AHT20_MEASURE_MS;
      }
    } else if (command === 0xba) {
      this.#measuring = false;
    }
    // Other bytes (e.g. a 0x71 some drivers send before reading the status) are acknowledged and ignored.
    return true;
  }

  protected onRead(count: number): Uint8Array {
    const busy = this.#busy();
    const r = this.#reply;
    r[0] = (busy ? 0x80 : 0) | 0x10 | (this.#calibrated ? 0x08 : 0);
    r[6] = crcOver(r, 0, 6);
    if (!busy && count >= 7 && this.corruptCrc()) r[6] ^= 0x5a;
    const out = new Uint8Array(count);
    out.set(r.subarray(0, Math.min(count, 7)));
    return out;
  }
}

// Register-level model of the Bosch BMP280 (I2C 0x76 or 0x77), per its datasheet (BST-BMP280-DS001):
// - registers (4.3): calibration 0x88..0x9F, id 0xD0 = 0x58, reset 0xE0 (0xB6), status 0xF3
//   (bit 3 measuring, bit 0 im_update), ctrl_meas 0xF4, config 0xF5, press 0xF7..0xF9,
//   temp 0xFA..0xFC; reads auto-increment, writes are register/value pairs (5.2.1);
// - forced mode (3.6.2): one measurement, then back to sleep; normal mode: continuous;
// - the data registers hold 0x80000 until a measurement ran (and for a skipped one);
// - the raw ADC values are found by inverting the datasheet's fixed-point compensation (3.11.3:
//   bmp280_compensate_T_int32 and bmp280_compensate_P_int64), implemented here independently of the
//   driver's double-precision formulas (8.1), so the two check each other.
// Faults: NACK, stuck busy (measuring bit never clears), unplug. The BMP280 has no CRC.
import { SimChip } from "./i2c-bus.ts";
import type { Conditions } from "./environment.ts";

/** Trimming parameters: the datasheet's example values (3.12), used by default. */
export const DATASHEET_TRIMMING = {
  T1: 27504,
  T2: 26435,
  T3: -1000,
  P1: 36477,
  P2: -10685,
  P3: 3024,
  P4: 2855,
  P5: 140,
  P6: -7,
  P7: 15500,
  P8: -14600,
  P9: 6000,
} as const;

export type Trimming = { -readonly [K in keyof typeof DATASHEET_TRIMMING]: number };

/** Datasheet 3.11.3 bmp280_compensate_T_int32: temperature in 0.01 °C and t_fine. */
export function compensateTInt32(adcT: number, t: Trimming): { t100: number; tFine: number } {
  const floorDiv = (x: number, d: number) => Math.floor(x / d);
  const var1 = floorDiv((floorDiv(adcT, 8) - t.T1 * 2) * t.T2, 2048);
  const d = floorDiv(adcT, 16) - t.T1;
  const var2 = floorDiv(floorDiv(d * d, 4096) * t.T3, 16384);
  const tFine = var1 + var2;
  return { t100: floorDiv(tFine * 5 + 128, 256), tFine };
}

/** Datasheet 3.11.3 bmp280_compensate_P_int64: pressure in Pa as Q24.8 (Pa * 256). */
export function compensatePInt64(adcP: number, tFine: number, t: Trimming): number {
  const B = BigInt;
  let var1 = B(tFine) - 128000n;
  let var2 = var1 * var1 * B(t.P6);
  var2 = var2 + ((var1 * B(t.P5)) << 17n);
  var2 = var2 + (B(t.P4) << 35n);
  var1 = ((var1 * var1 * B(t.P3)) >> 8n) + ((var1 * B(t.P2)) << 12n);
  var1 = (((1n << 47n) + var1) * B(t.P1)) >> 33n;
  if (var1 === 0n) return 0;
  let p = 1048576n - B(adcP);
  p = (((p << 31n) - var2) * 3125n) / var1;
  var1 = (B(t.P9) * (p >> 13n) * (p >> 13n)) >> 25n;
  var2 = (B(t.P8) * p) >> 19n;
  p = ((p + var1 + var2) >> 8n) + (B(t.P7) << 4n);
  return Number(p);
}

/**
 * The inverse: 20-bit adc_T and adc_P whose compensated values are closest to `temperature` (°C)
 * and `pressure` (Pa). Compensated T rises and P falls monotonically with the ADC value over the
 * code range for sane trimming, so a binary search over the codes finds them.
 */
export function bmp280Adc(temperature: number, pressure: number, t: Trimming): { adcT: number; adcP: number } {
  let lo = 0;
  let hi = 0xfffff;
  const targetT = temperature * 100;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compensateTInt32(mid, t).t100 < targetT) lo = mid + 1;
    else hi = mid;
  }
  const adcT = lo;
  const { tFine } = compensateTInt32(adcT, t);
  const targetP = pressure * 256;
  lo = 0;
  hi = 0xfffff;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compensatePInt64(mid, tFine, t) > targetP) lo = mid + 1;
    else hi = mid;
  }
  return { adcT, adcP: lo };
}

/** The 24 trimming bytes as stored at 0x88..0x9F (little-endian, table 17). */
export function trimmingBytes(t: Trimming): Uint8Array {
  const values = [t.T1, t.T2, t.T3, t.P1, t.P2, t.P3, t.P4, t.P5, t.P6, t.P7, t.P8, t.P9];
  const out = new Uint8Array(24);
  values.forEach((v, i) => {
    out[2 * i] = v & 0xff;
    out[2 * i + 1] = (v >> 8) & 0xff;
  });
  return out;
}

const OVERSAMPLING = [0, 1, 2, 4, 8, 16, 16, 16];
const STANDBY_MS = [0.5, 62.5, 125, 250, 500, 1000, 2000, 4000];

export class BMP280Model extends SimChip {
  readonly #conditions: () => Conditions;
  readonly #trimming: Trimming;
  readonly #regs = new Uint8Array(256);
  #pointer = 0;
  #measureEnd = -1;
  #imUpdateUntil = -1;
  #nextNormal = -1;
  measurements = 0;

  constructor(now: () => number, conditions: () => Conditions, options: { address?: number; trimming?: Trimming } = {}) {
    super(options.address === 0x77 ? "bmp280@77" : "bmp280", now);
    this.#conditions = conditions;
    this.#trimming = { ...(options.trimming ?? DATASHEET_TRIMMING) };
    this.powerOn();
  }

  get trimming(): Readonly<Trimming> {
    return this.#trimming;
  }

  protected powerOn(): void {
    const r = this.#regs;
    r.fill(0);
    r.set(trimmingBytes(this.#trimming), 0x88);
    r[0xd0] = 0x58;
    this.#setData(0x80000, 0x80000);
    this.#pointer = 0;
    this.#measureEnd = -1;
    this.#nextNormal = -1;
    this.#imUpdateUntil = this.now() + 1; // NVM copy after power-on / reset
  }

  #setData(adcP: number, adcT: number): void {
    const r = this.#regs;
    r[0xf7] = adcP >> 12;
    r[0xf8] = (adcP >> 4) & 0xff;
    r[0xf9] = (adcP & 0x0f) << 4;
    r[0xfa] = adcT >> 12;
    r[0xfb] = (adcT >> 4) & 0xff;
    r[0xfc] = (adcT & 0x0f) << 4;
  }

  /** Typical measurement time (appendix B): 1 + 2 * T_os + 2 * P_os + 0.5 ms. */
  #duration(ctrl: number): number {
    const tOs = OVERSAMPLING[ctrl >> 5];
    const pOs = OVERSAMPLING[(ctrl >> 2) & 7];
    return 1 + 2 * tOs + (pOs ? 2 * pOs + 0.5 : 0);
  }

  #convert(ctrl: number): void {
    const c = this.#conditions();
    const { adcT, adcP } = bmp280Adc(c.temperature, c.pressure, this.#trimming);
    const tOn = ctrl >> 5 !== 0;
    const pOn = ((ctrl >> 2) & 7) !== 0;
    this.#setData(pOn && tOn ? adcP : 0x80000, tOn ? adcT : 0x80000);
    this.measurements++;
  }

  /** Brings the registers up to date with the clock. */
  #update(): void {
    const now = this.now();
    const r = this.#regs;
    const ctrl = r[0xf4];
    const mode = ctrl & 3;
    let status = 0;
    if (this.#measureEnd >= 0) {
      if (this.faults.stuckBusy || now < this.#measureEnd) status |= 0x08;
      else {
        this.#measureEnd = -1;
        this.#convert(ctrl);
        if (mode === 1 || mode === 2) r[0xf4] = ctrl & 0xfc; // forced: back to sleep
      }
    }
    if (mode === 3 && this.#measureEnd < 0 && !this.faults.stuckBusy && now >= this.#nextNormal) {
      this.#convert(ctrl);
      this.#nextNormal = now + this.#duration(ctrl) + STANDBY_MS[r[0xf5] >> 5];
    }
    if (now < this.#imUpdateUntil) status |= 0x01;
    r[0xf3] = status;
  }

  protected onWrite(bytes: Uint8Array): boolean {
    if (bytes.length === 0) return true; // probe
    this.#update();
    this.#pointer = bytes[0];
    for (let i = 0; i + 1 < bytes.length; i += 2) this.#writeRegister(bytes[i], bytes[i + 1]);
    return true;
  }

  #writeRegister(register: number, value: number): void {
    const r = this.#regs;
    if (register === 0xe0) {
      if (value === 0xb6) this.powerOn();
    } else if (register === 0xf4) {
      r[0xf4] = value;
      const mode = value & 3;
      if (mode === 1 || mode === 2) this.#measureEnd = this.now() + this.#duration(value);
      else if (mode === 3) this.#nextNormal = this.now();
    } else if (register === 0xf5) {
      r[0xf5] = value & 0xfd;
    }
    // Other registers are read-only: writes are ignored.
  }

  protected onRead(count: number): Uint8Array {
    this.#update();
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = this.#regs[(this.#pointer + i) & 0xff];
    this.#pointer = (this.#pointer + count) & 0xff;
    return out;
  }
}

// BMP280 barometric pressure and temperature sensor (Bosch), I2C address 0x76 (SDO low) or 0x77,
// in the ECMA-419 sensor class pattern, in forced mode.
//
// Bosch BMP280 datasheet (BST-BMP280-DS001):
// - 3.11.2 trimming parameters dig_T1..dig_P9 at 0x88..0x9F, little-endian, T1 and P1 unsigned;
// - 3.8.2 "weather monitoring" profile: forced mode, osrs_t x1, osrs_p x1, IIR filter off;
// - 3.8.1 / appendix B: t_measure,max = 1.25 + 2.3 * T_os + 2.3 * P_os + 0.575 ms;
// - 4.3 registers: id 0xD0 = 0x58, reset 0xE0 <- 0xB6, status 0xF3 (bit 3 measuring, bit 0 im_update),
//   ctrl_meas 0xF4, config 0xF5, press 0xF7..0xF9 and temp 0xFA..0xFC (20 bits, MSB first);
// - 8.1 compensation formulas in double precision (the datasheet's example, 3.12: adc_T = 519888,
//   adc_P = 415148 with its trimming values give 25.08 °C and 100653.27 Pa).
// Why not the SDK's own bmp280 driver: its compensation is native C (bmp280.c, a host object), which
// only exists in SDK builds, so the same code path could not run in our XS simulator.
import Timer from "timer";
import { I2CSensor, type Sample, type SensorOptions } from "./sensor";

export const BMP280_ADDRESSES: readonly number[] = [0x76, 0x77];
export const BMP280_CHIP_ID = 0x58;

const REG_CALIBRATION = 0x88;
const REG_ID = 0xd0;
const REG_RESET = 0xe0;
const REG_STATUS = 0xf3;
const REG_CTRL_MEAS = 0xf4;
const REG_CONFIG = 0xf5;
const REG_DATA = 0xf7;
const STATUS_MEASURING = 0x08;
const STATUS_IM_UPDATE = 0x01;
const POLL_MS = 2;
const POLLS = 10;
/** Value of the data registers when the measurement was skipped or never ran (4.3.6/4.3.7). */
const SKIPPED = 0x80000;

export interface BMP280Calibration {
  T1: number;
  T2: number;
  T3: number;
  P1: number;
  P2: number;
  P3: number;
  P4: number;
  P5: number;
  P6: number;
  P7: number;
  P8: number;
  P9: number;
}

export interface BMP280Reading {
  /** °C */
  temperature: number;
  /** Pa; NaN when dig_P1 makes the formula divide by zero. */
  pressure: number;
  /** fine temperature, shared by the pressure formula */
  tFine: number;
}

/** Datasheet section 8.1: compensation in double precision. */
export function bmp280Compensate(cal: BMP280Calibration, adcT: number, adcP: number, out?: BMP280Reading): BMP280Reading {
  let var1 = (adcT / 16384 - cal.T1 / 1024) * cal.T2;
  let var2 = (adcT / 131072 - cal.T1 / 8192) * (adcT / 131072 - cal.T1 / 8192) * cal.T3;
  const tFine = Math.trunc(var1 + var2);
  const temperature = (var1 + var2) / 5120;

  var1 = tFine / 2 - 64000;
  var2 = (var1 * var1 * cal.P6) / 32768;
  var2 = var2 + var1 * cal.P5 * 2;
  var2 = var2 / 4 + cal.P4 * 65536;
  var1 = ((cal.P3 * var1 * var1) / 524288 + cal.P2 * var1) / 524288;
  var1 = (1 + var1 / 32768) * cal.P1;
  let pressure = NaN;
  if (var1 !== 0) {
    let p = 1048576 - adcP;
    p = ((p - var2 / 4096) * 6250) / var1;
    var1 = (cal.P9 * p * p) / 2147483648;
    var2 = (p * cal.P8) / 32768;
    pressure = p + (var1 + var2 + cal.P7) / 16;
  }
  const result = out ?? { temperature: 0, pressure: 0, tFine: 0 };
  result.temperature = temperature;
  result.pressure = pressure;
  result.tFine = tFine;
  return result;
}

/** Parses the 24 trimming bytes read from 0x88 (datasheet table 17). */
export function bmp280ParseCalibration(bytes: Uint8Array, into?: BMP280Calibration): BMP280Calibration {
  const u16 = (i: number) => bytes[i] | (bytes[i + 1] << 8);
  const s16 = (i: number) => (u16(i) << 16) >> 16;
  const cal = into ?? { T1: 0, T2: 0, T3: 0, P1: 0, P2: 0, P3: 0, P4: 0, P5: 0, P6: 0, P7: 0, P8: 0, P9: 0 };
  cal.T1 = u16(0);
  cal.T2 = s16(2);
  cal.T3 = s16(4);
  cal.P1 = u16(6);
  cal.P2 = s16(8);
  cal.P3 = s16(10);
  cal.P4 = s16(12);
  cal.P5 = s16(14);
  cal.P6 = s16(16);
  cal.P7 = s16(18);
  cal.P8 = s16(20);
  cal.P9 = s16(22);
  return cal;
}

const OVERSAMPLING: readonly number[] = [0, 1, 2, 4, 8, 16];

export interface BMP280Configuration {
  /** osrs_t code 1..5 (x1..x16); default 1 */
  temperatureSampling?: number;
  /** osrs_p code 1..5 (x1..x16); default 1 */
  pressureSampling?: number;
  /** IIR filter code 0..4; default 0 (off) */
  filter?: number;
}

export default class BMP280 extends I2CSensor {
  readonly #register = new Uint8Array(1);
  readonly #pair = new Uint8Array(2);
  readonly #data = new Uint8Array(6);
  readonly #trimming = new Uint8Array(24);
  readonly #calibration: BMP280Calibration = { T1: 0, T2: 0, T3: 0, P1: 0, P2: 0, P3: 0, P4: 0, P5: 0, P6: 0, P7: 0, P8: 0, P9: 0 };
  readonly #reading: BMP280Reading = { temperature: 0, pressure: 0, tFine: 0 };
  #osrsT = 1;
  #osrsP = 1;
  #filter = 0;
  #measureMs = 7;

  constructor(options: SensorOptions) {
    super("bmp280", options.sensor, BMP280_ADDRESSES[0], 400_000);
    this.setUp(() => this.#initialize());
  }

  override configure(options: BMP280Configuration): void {
    if (options.temperatureSampling !== undefined) this.#osrsT = checkCode("temperatureSampling", options.temperatureSampling, 1, 5);
    if (options.pressureSampling !== undefined) this.#osrsP = checkCode("pressureSampling", options.pressureSampling, 1, 5);
    if (options.filter !== undefined) this.#filter = checkCode("filter", options.filter, 0, 4);
    this.#measureMs = Math.ceil(1.25 + 2.3 * OVERSAMPLING[this.#osrsT] + 2.3 * OVERSAMPLING[this.#osrsP] + 0.575);
    this.#writeRegister(REG_CTRL_MEAS, (this.#osrsT << 5) | (this.#osrsP << 2)); // sleep mode
    this.#writeRegister(REG_CONFIG, this.#filter << 2);
  }

  sample(): Sample {
    this.#writeRegister(REG_CTRL_MEAS, (this.#osrsT << 5) | (this.#osrsP << 2) | 0b01); // forced
    Timer.delay(this.#measureMs);
    this.#waitWhile(STATUS_MEASURING, "measurement still running");
    const data = this.#data;
    this.#readBlock(REG_DATA, data);
    const adcP = (data[0] << 12) | (data[1] << 4) | (data[2] >> 4);
    const adcT = (data[3] << 12) | (data[4] << 4) | (data[5] >> 4);
    if (adcP === SKIPPED || adcT === SKIPPED) throw this.error("busy", "no measurement in the data registers");
    const reading = bmp280Compensate(this.#calibration, adcT, adcP, this.#reading);
    // Operating range (datasheet table 1): -40..85 °C, 300..1100 hPa. Outside it the data is corrupt.
    if (!(reading.temperature >= -40 && reading.temperature <= 85)) throw this.error("range", "temperature out of range");
    if (!(reading.pressure >= 30000 && reading.pressure <= 110000)) throw this.error("range", "pressure out of range");
    return { thermometer: { temperature: reading.temperature }, barometer: { pressure: reading.pressure } };
  }

  #initialize(): void {
    const id = this.#readRegister(REG_ID);
    if (id !== BMP280_CHIP_ID) throw this.error("identity", `chip id 0x${id.toString(16)}, expected 0x58`);
    this.#writeRegister(REG_RESET, 0xb6);
    Timer.delay(3); // start-up time 2 ms (table 2)
    this.#waitWhile(STATUS_IM_UPDATE, "NVM copy did not finish");
    this.#readBlock(REG_CALIBRATION, this.#trimming);
    const cal = bmp280ParseCalibration(this.#trimming, this.#calibration);
    if (cal.T1 === 0 || cal.P1 === 0) throw this.error("calibration", "invalid trimming parameters");
    this.configure({});
  }

  /** Polls the status register until `bit` clears (4.3.3); "busy" when it does not in time. */
  #waitWhile(bit: number, message: string): void {
    for (let poll = 0; this.#readRegister(REG_STATUS) & bit; poll++) {
      if (poll === POLLS) throw this.error("busy", message);
      Timer.delay(POLL_MS);
    }
  }

  #readBlock(register: number, into: Uint8Array): void {
    this.#register[0] = register;
    this.transfer(this.#register, into, "register read");
  }

  #readRegister(register: number): number {
    this.#readBlock(register, this.#register);
    return this.#register[0];
  }

  #writeRegister(register: number, value: number): void {
    const pair = this.#pair;
    pair[0] = register;
    pair[1] = value;
    this.write(pair, "register write");
  }
}

function checkCode(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`bmp280: ${name} must be an integer ${min}..${max}`);
  return value;
}

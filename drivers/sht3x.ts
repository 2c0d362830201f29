// SHT3x (SHT30/SHT31/SHT35) temperature and humidity sensor (Sensirion), I2C address 0x44 (ADDR low)
// or 0x45 (ADDR high), in the ECMA-419 sensor class pattern.
//
// Sensirion SHT3x-DIS datasheet (v6/v7):
// - 4.3 single shot mode: command 0x2400 = high repeatability, no clock stretching; while the
//   measurement runs (max 15 ms, table 4) the sensor does not acknowledge a read header;
// - 4.4 readout: T MSB, T LSB, CRC, RH MSB, RH LSB, CRC;
// - 4.9 soft reset 0x30A2; 4.11 status register 0xF32D (2 bytes + CRC);
// - 4.12 CRC-8: polynomial 0x31, init 0xFF, no reflection, no final XOR; CRC(0xBEEF) = 0x92;
// - 4.13 T[°C] = -45 + 175 * S_T / (2^16 - 1) ; RH[%] = 100 * S_RH / (2^16 - 1).
// Why not the SDK's own sht3x driver: it needs the SDK's native `crc` module (no XS build outside the
// SDK has it), returns {temperature, humidity} flat instead of the ECMA-419 {thermometer, hygrometer}
// shape, and on a CRC mismatch silently leaves the value out instead of saying so.
import Timer from "timer";
import { I2CSensor, type Sample, type SensorOptions } from "./sensor";

export const SHT3X_ADDRESSES: readonly number[] = [0x44, 0x45];

const MEASURE_HIGH = 0x2400;
const SOFT_RESET = 0x30a2;
const READ_STATUS = 0xf32d;
const CLEAR_STATUS = 0x3041;
const MEASURE_MS = 16;
const POLL_MS = 5;
const POLLS = 4;

export function sht3xTemperature(raw: number): number {
  return -45 + (175 * raw) / 65535;
}

export function sht3xHumidity(raw: number): number {
  return (100 * raw) / 65535;
}

export default class SHT3x extends I2CSensor {
  readonly #command = new Uint8Array(2);
  readonly #status = new Uint8Array(3);
  readonly #data = new Uint8Array(6);

  constructor(options: SensorOptions) {
    super("sht3x", options.sensor, SHT3X_ADDRESSES[0], 400_000);
    this.setUp(() => this.#initialize());
  }

  sample(): Sample {
    this.#send(MEASURE_HIGH, "measure command");
    Timer.delay(MEASURE_MS);
    const data = this.#data;
    for (let poll = 0; ; poll++) {
      try {
        this.read(data, "read");
        break;
      } catch (error) {
        // A NACKed read header means "still measuring" (section 4.3), or that the sensor is gone.
        if (poll === POLLS) throw error;
      }
      Timer.delay(POLL_MS);
    }
    this.checkCrc(data, 0, 2, "crc", "temperature");
    this.checkCrc(data, 3, 5, "crc", "humidity");
    const temperature = sht3xTemperature((data[0] << 8) | data[1]);
    const humidity = sht3xHumidity((data[3] << 8) | data[4]);
    return { thermometer: { temperature }, hygrometer: { humidity } };
  }

  #initialize(): void {
    this.#send(SOFT_RESET, "soft reset");
    Timer.delay(2);
    // Identity check: the status register must come back with a valid CRC.
    this.#send(READ_STATUS, "status command");
    this.read(this.#status, "status read");
    this.checkCrc(this.#status, 0, 2, "identity", "status");
    this.#send(CLEAR_STATUS, "clear status");
  }

  #send(command: number, what: string): void {
    const bytes = this.#command;
    bytes[0] = command >> 8;
    bytes[1] = command & 0xff;
    this.write(bytes, what);
  }
}

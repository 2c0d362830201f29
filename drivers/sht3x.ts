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
import {
  closeDevice,
  crc8,
  ioError,
  openDevice,
  SensorError,
  type I2CDevice,
  type Sample,
  type Sensor,
  type SensorOptions,
} from "./sensor";

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

export default class SHT3x implements Sensor {
  #io: I2CDevice | undefined;
  readonly #command = new Uint8Array(2);
  readonly #status = new Uint8Array(3);
  readonly #data = new Uint8Array(6);

  constructor(options: SensorOptions) {
    const io = (this.#io = openDevice("sht3x", options.sensor, SHT3X_ADDRESSES[0], 400_000));
    try {
      this.#send(io, SOFT_RESET, "soft reset");
      Timer.delay(2);
      // Identity check: the status register must come back with a valid CRC.
      this.#send(io, READ_STATUS, "status command");
      try {
        io.read(this.#status);
      } catch (error) {
        throw ioError("sht3x", "status read", error);
      }
      if (crc8(this.#status, 0, 2) !== this.#status[2]) throw new SensorError("identity", "sht3x: status CRC mismatch");
      this.#send(io, CLEAR_STATUS, "clear status");
    } catch (error) {
      this.close();
      throw error;
    }
  }

  configure(_options: object): void {}

  close(): void {
    closeDevice(this.#io);
    this.#io = undefined;
  }

  sample(): Sample {
    const io = this.#io;
    if (!io) throw new SensorError("io", "sht3x: closed");
    this.#send(io, MEASURE_HIGH, "measure command");
    Timer.delay(MEASURE_MS);
    const data = this.#data;
    for (let poll = 0; ; poll++) {
      try {
        io.read(data);
        break;
      } catch (error) {
        // A NACKed read header means "still measuring" (section 4.3), or that the sensor is gone.
        if (poll === POLLS) throw ioError("sht3x", "read", error);
      }
      Timer.delay(POLL_MS);
    }
    if (crc8(data, 0, 2) !== data[2] || crc8(data, 3, 5) !== data[5]) throw new SensorError("crc", "sht3x: CRC mismatch");
    const temperature = sht3xTemperature((data[0] << 8) | data[1]);
    const humidity = sht3xHumidity((data[3] << 8) | data[4]);
    return { thermometer: { temperature }, hygrometer: { humidity } };
  }

  #send(io: I2CDevice, command: number, what: string): void {
    const bytes = this.#command;
    bytes[0] = command >> 8;
    bytes[1] = command & 0xff;
    try {
      io.write(bytes);
    } catch (error) {
      throw ioError("sht3x", what, error);
    }
  }
}

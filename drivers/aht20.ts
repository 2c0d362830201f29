// AHT20 temperature and humidity sensor (Aosong), I2C address 0x38, in the ECMA-419 sensor class
// pattern. Our own driver: the Moddable SDK ships an AHT10 driver only, and the AHT20 is on many of
// the cheapest ESP32 sensor boards (often together with a BMP280).
//
// Aosong AHT20 datasheet (v1.1), section 5.4 "Sensor reading process" and 6 "Signal transformation":
// - read the status byte; if the calibration-enable bit (bit 3) is clear, send the initialisation
//   command 0xBE 0x08 0x00 and wait 10 ms;
// - trigger a measurement with 0xAC 0x33 0x00, wait 80 ms, read until the busy bit (bit 7) is clear;
// - the reply is: status, 20 bits of humidity, 20 bits of temperature, CRC-8 (poly 0x31, init 0xFF)
//   over the first six bytes;
// - RH[%] = S_RH / 2^20 * 100 ; T[°C] = S_T / 2^20 * 200 - 50.
import Timer from "timer";
import { closeDevice, crc8, ioError, openDevice, SensorError, type I2CDevice, type Sample, type Sensor, type SensorOptions } from "./sensor";

export const AHT20_ADDRESS = 0x38;

const STATUS_BUSY = 0x80;
const STATUS_CALIBRATED = 0x08;
const MEASURE_MS = 80;
const POLL_MS = 10;
const POLLS = 5;

/** Humidity in %RH from the 20-bit raw value (datasheet section 6.1). */
export function aht20Humidity(raw: number): number {
  return (raw / 1048576) * 100;
}

/** Temperature in °C from the 20-bit raw value (datasheet section 6.2). */
export function aht20Temperature(raw: number): number {
  return (raw / 1048576) * 200 - 50;
}

export default class AHT20 implements Sensor {
  #io: I2CDevice | undefined;
  readonly #command = new Uint8Array(3);
  readonly #status = new Uint8Array(1);
  readonly #data = new Uint8Array(7);

  constructor(options: SensorOptions) {
    this.#io = openDevice("aht20", options.sensor, AHT20_ADDRESS, 400_000);
    try {
      this.#initialize();
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
    const io = this.#device();
    const command = this.#command;
    command[0] = 0xac;
    command[1] = 0x33;
    command[2] = 0x00;
    this.#write(io, command, "trigger");
    Timer.delay(MEASURE_MS);

    const data = this.#data;
    for (let poll = 0; ; poll++) {
      try {
        io.read(data);
      } catch (error) {
        throw ioError("aht20", "read", error);
      }
      if (!(data[0] & STATUS_BUSY)) break;
      if (poll === POLLS) throw new SensorError("busy", "aht20: measurement still busy");
      Timer.delay(POLL_MS);
    }
    if (crc8(data, 0, 6) !== data[6]) throw new SensorError("crc", "aht20: CRC mismatch");
    if (!(data[0] & STATUS_CALIBRATED)) throw new SensorError("calibration", "aht20: lost calibration");

    const rawHumidity = (data[1] << 12) | (data[2] << 4) | (data[3] >> 4);
    const rawTemperature = ((data[3] & 0x0f) << 16) | (data[4] << 8) | data[5];
    const humidity = aht20Humidity(rawHumidity);
    const temperature = aht20Temperature(rawTemperature);
    // Operating range per datasheet section 1: -40..85 °C, 0..100 %RH. Anything else is corrupt.
    if (temperature < -40 || temperature > 85) throw new SensorError("range", "aht20: temperature out of range");
    return { thermometer: { temperature }, hygrometer: { humidity } };
  }

  #device(): I2CDevice {
    const io = this.#io;
    if (!io) throw new SensorError("io", "aht20: closed");
    return io;
  }

  #write(io: I2CDevice, bytes: Uint8Array, what: string): void {
    try {
      io.write(bytes);
    } catch (error) {
      throw ioError("aht20", what, error);
    }
  }

  #readStatus(io: I2CDevice): number {
    try {
      io.read(this.#status);
    } catch (error) {
      throw ioError("aht20", "status read", error);
    }
    return this.#status[0];
  }

  #initialize(): void {
    const io = this.#device();
    let status = this.#readStatus(io);
    if (status & STATUS_BUSY) {
      // A measurement left running (or a wedged chip): soft reset (0xBA), datasheet section 5.5.
      const command = this.#command.subarray(0, 1);
      command[0] = 0xba;
      this.#write(io, command, "soft reset");
      Timer.delay(20);
      status = this.#readStatus(io);
    }
    if (status & STATUS_CALIBRATED) return;
    const command = this.#command;
    command[0] = 0xbe;
    command[1] = 0x08;
    command[2] = 0x00;
    this.#write(io, command, "initialise");
    Timer.delay(10);
    status = this.#readStatus(io);
    if (!(status & STATUS_CALIBRATED)) throw new SensorError("calibration", "aht20: calibration bit still clear after init");
  }
}

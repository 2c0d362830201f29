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
import { I2CSensor, type Sample, type SensorOptions } from "./sensor";

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

export default class AHT20 extends I2CSensor {
  readonly #command = new Uint8Array(3);
  readonly #reset = Uint8Array.of(0xba);
  readonly #status = new Uint8Array(1);
  readonly #data = new Uint8Array(7);

  constructor(options: SensorOptions) {
    super("aht20", options.sensor, AHT20_ADDRESS, 400_000);
    this.setUp(() => this.#initialize());
  }

  sample(): Sample {
    this.#send(0xac, 0x33, 0x00, "trigger");
    Timer.delay(MEASURE_MS);

    const data = this.#data;
    for (let poll = 0; ; poll++) {
      this.read(data, "read");
      if (!(data[0] & STATUS_BUSY)) break;
      if (poll === POLLS) throw this.error("busy", "measurement still busy");
      Timer.delay(POLL_MS);
    }
    this.checkCrc(data, 0, 6, "crc", "measurement");
    if (!(data[0] & STATUS_CALIBRATED)) throw this.error("calibration", "lost calibration");

    const rawHumidity = (data[1] << 12) | (data[2] << 4) | (data[3] >> 4);
    const rawTemperature = ((data[3] & 0x0f) << 16) | (data[4] << 8) | data[5];
    const humidity = aht20Humidity(rawHumidity);
    const temperature = aht20Temperature(rawTemperature);
    // Operating range per datasheet section 1: -40..85 °C, 0..100 %RH. Anything else is corrupt.
    if (temperature < -40 || temperature > 85) throw this.error("range", "temperature out of range");
    return { thermometer: { temperature }, hygrometer: { humidity } };
  }

  /** Sends a three-byte command (datasheet 5.3). */
  #send(b0: number, b1: number, b2: number, what: string): void {
    const command = this.#command;
    command[0] = b0;
    command[1] = b1;
    command[2] = b2;
    this.write(command, what);
  }

  #readStatus(): number {
    this.read(this.#status, "status read");
    return this.#status[0];
  }

  #initialize(): void {
    let status = this.#readStatus();
    if (status & STATUS_BUSY) {
      // A measurement left running (or a wedged chip): soft reset (0xBA), datasheet section 5.5.
      this.write(this.#reset, "soft reset");
      Timer.delay(20);
      status = this.#readStatus();
    }
    if (status & STATUS_CALIBRATED) return;
    this.#send(0xbe, 0x08, 0x00, "initialise");
    Timer.delay(10);
    status = this.#readStatus();
    if (!(status & STATUS_CALIBRATED)) throw this.error("calibration", "calibration bit still clear after init");
  }
}

// Register-level model of the Sensirion SHT3x-DIS (I2C 0x44 or 0x45), per its datasheet:
// - 16-bit commands (4.3 single shot 0x24xx / 0x2Cxx, 4.9 soft reset 0x30A2, 4.11 status 0xF32D and
//   clear 0x3041, 4.10 heater 0x306D / 0x3066);
// - single shot without clock stretching: while measuring (table 4: high 12.5 ms, medium 4.5 ms,
//   low 2.5 ms typical) the sensor NACKs a read header and ignores commands; with clock stretching
//   (0x2Cxx) the read simply returns once done (modelled as immediately);
// - each 16-bit word is followed by its CRC-8 (0x31, init 0xFF);
// - S_T = (T + 45) / 175 * 65535 ; S_RH = RH / 100 * 65535 (inverse of 4.13).
// Faults: NACK, bad CRC, stuck busy (the measurement never ends: reads NACK), unplug.
import { crcOver, SimChip } from "./i2c-bus.ts";
import type { Conditions } from "./environment.ts";

const STATUS_ALERT = 0x8000;
const STATUS_HEATER = 0x2000;
const STATUS_RESET = 0x0010;
const STATUS_COMMAND_FAILED = 0x0002;

export function sht3xRaw(temperature: number, humidity: number): { rawT: number; rawH: number } {
  const clamp = (v: number) => Math.min(0xffff, Math.max(0, Math.round(v)));
  return { rawT: clamp(((temperature + 45) / 175) * 65535), rawH: clamp((humidity / 100) * 65535) };
}

export class SHT3xModel extends SimChip {
  readonly #conditions: () => Conditions;
  #status = STATUS_ALERT | STATUS_RESET;
  #readyAt = -1;
  /** What the next read returns: nothing, a measurement (when ready), or the status word. */
  #pending: "none" | "measurement" | "status" = "none";
  readonly #reply = new Uint8Array(6);
  measurements = 0;

  constructor(now: () => number, conditions: () => Conditions, address = 0x44) {
    super(address === 0x45 ? "sht3x@45" : "sht3x", now);
    this.#conditions = conditions;
  }

  protected powerOn(): void {
    this.#status = STATUS_ALERT | STATUS_RESET;
    this.#readyAt = -1;
    this.#pending = "none";
  }

  #measuring(): boolean {
    return this.#pending === "measurement" && (this.faults.stuckBusy || this.now() < this.#readyAt);
  }

  protected onWrite(bytes: Uint8Array): boolean {
    if (this.#measuring()) return false; // busy: commands are not acknowledged
    if (bytes.length === 0) return true; // probe
    if (bytes.length < 2) return true; // incomplete command: acknowledged, ignored
    const command = (bytes[0] << 8) | bytes[1];
    const msb = bytes[0];
    if (msb === 0x24 || msb === 0x2c) {
      const lsb = bytes[1];
      let duration: number;
      if (msb === 0x24) duration = lsb === 0x00 ? 12.5 : lsb === 0x0b ? 4.5 : lsb === 0x16 ? 2.5 : -1;
      else duration = lsb === 0x06 || lsb === 0x0d || lsb === 0x10 ? 0 : -1;
      if (duration < 0) {
        this.#status |= STATUS_COMMAND_FAILED;
        return true;
      }
      this.#pending = "measurement";
      this.#readyAt = this.now() + duration;
    } else if (command === 0x30a2) {
      this.powerOn();
    } else if (command === 0xf32d) {
      this.#pending = "status";
    } else if (command === 0x3041) {
      this.#status &= ~(STATUS_ALERT | STATUS_RESET | 0x0800 | 0x0400);
    } else if (command === 0x306d) {
      this.#status |= STATUS_HEATER;
    } else if (command === 0x3066) {
      this.#status &= ~STATUS_HEATER;
    } else {
      this.#status |= STATUS_COMMAND_FAILED;
    }
    return true;
  }

  protected onRead(count: number): Uint8Array | undefined {
    const r = this.#reply;
    if (this.#pending === "status") {
      r[0] = this.#status >> 8;
      r[1] = this.#status & 0xff;
      r[2] = crcOver(r, 0, 2);
      if (count >= 3 && this.corruptCrc()) r[2] ^= 0x5a;
      this.#pending = "none";
      return this.#copy(count, 3);
    }
    if (this.#pending !== "measurement" || this.#measuring()) return undefined; // NACK: no data (yet)
    this.#pending = "none";
    const c = this.#conditions();
    const { rawT, rawH } = sht3xRaw(c.temperature, c.humidity);
    r[0] = rawT >> 8;
    r[1] = rawT & 0xff;
    r[2] = crcOver(r, 0, 2);
    r[3] = rawH >> 8;
    r[4] = rawH & 0xff;
    r[5] = crcOver(r, 3, 5);
    if (count >= 6 && this.corruptCrc()) r[5] ^= 0x5a;
    this.measurements++;
    return this.#copy(count, 6);
  }

  #copy(count: number, available: number): Uint8Array {
    const out = new Uint8Array(count);
    out.set(this.#reply.subarray(0, Math.min(count, available)));
    // Reading past the data: the sensor sends 0xFF (bus released).
    for (let i = available; i < count; i++) out[i] = 0xff;
    return out;
  }
}

// Moddable `pins/i2c` (the pre-ECMA-419 API) for the simulators, over the simulated I2C bus, with the
// SDK's semantics (modules/pins/i2c/i2c.c):
// - new I2C({sda, scl, address, hz?, throw?}): "invalid address" outside 0..127; default pins are the
//   board's (the simulated sensor bus);
// - read(count[, buffer]): a new Uint8Array, or `buffer` (an ArrayBuffer) filled; undefined when the
//   device does not answer; "40 byte read limit";
// - write(...values[, stop]): numbers, strings, ArrayBuffers and array-likes concatenated, a trailing
//   boolean is the stop flag; "write failed" when not acknowledged (with `throw: false`: returns an
//   Error instead); "40 byte write limit".
// Written like firmware.
import { world, DEFAULT_SCL, DEFAULT_SDA } from "../../devices/world.ts";
import type { SimI2CBus } from "../../devices/i2c-bus.ts";

type Writable = number | string | ArrayBuffer | ArrayLike<number>;
const LIMIT = 40;

export default class I2C {
  #bus: SimI2CBus | undefined;
  readonly #address: number;
  readonly #throw: boolean;

  constructor(dictionary: { address: number; sda?: number; scl?: number; hz?: number; throw?: boolean }) {
    const address = Math.trunc(Number(dictionary.address));
    if (!(address >= 0 && address <= 127)) throw new Error("invalid address");
    this.#address = address;
    this.#throw = dictionary.throw ?? true;
    this.#bus = world().busOn(dictionary.sda ?? DEFAULT_SDA, dictionary.scl ?? DEFAULT_SCL);
  }

  close(): void {
    this.#bus = undefined;
  }

  read(count: number): Uint8Array | undefined;
  read(count: number, buffer: ArrayBuffer): ArrayBuffer | undefined;
  read(count: number, buffer?: ArrayBuffer): Uint8Array | ArrayBuffer | undefined {
    const bus = this.#live();
    const n = Math.trunc(Number(count));
    if (n > LIMIT) throw new Error("40 byte read limit");
    const bytes = bus.read(this.#address, n, true);
    if (bytes === undefined) return undefined;
    if (buffer !== undefined) {
      if (buffer.byteLength < n) throw new Error("buffer too small");
      new Uint8Array(buffer).set(bytes.subarray(0, n));
      return buffer;
    }
    return bytes.slice(0, n);
  }

  write(...values: (Writable | boolean)[]): Error | undefined {
    const bus = this.#live();
    const out: number[] = [];
    let stop = true;
    values.forEach((value, i) => {
      if (typeof value === "boolean") {
        if (i === values.length - 1) stop = value;
        return;
      }
      if (typeof value === "number") out.push(value & 0xff);
      else if (typeof value === "string") for (let j = 0; j < value.length; j++) out.push(value.charCodeAt(j) & 0xff);
      else if (value instanceof ArrayBuffer) new Uint8Array(value).forEach((b) => out.push(b));
      else for (let j = 0; j < value.length; j++) out.push(Number(value[j]) & 0xff);
      if (out.length > LIMIT) throw new Error("40 byte write limit");
    });
    if (bus.write(this.#address, new Uint8Array(out), stop)) return undefined;
    if (this.#throw) throw new Error("write failed");
    return new Error("write failed");
  }

  #live(): SimI2CBus {
    if (this.#bus === undefined) throw new Error("closed");
    return this.#bus;
  }
}

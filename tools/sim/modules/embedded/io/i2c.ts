// ECMA-419 `embedded:io/i2c` for the simulators, over the simulated I2C bus (sim/devices/). Same
// behaviour as Moddable's ESP32 implementation (modules/io/i2c/esp32/_i2c.c):
// - constructor({data, clock, hz, address, port?, timeout?, pullup?}): RangeError for a missing
//   data/clock/address, an address outside 0..127, hz outside 1..20 MHz, or an address already open on
//   the same pins ("duplicate address");
// - read(count | buffer, stop): a new ArrayBuffer, or the buffer passed filled and the byte count
//   returned; throws "read failed" when the address is not acknowledged;
// - write(buffer, stop): throws "write failed" when not acknowledged, except a zero-length write
//   (the bus probe), which returns 1 on NACK and undefined on ACK;
// - `stop` is true when left out, else its truthiness: an explicit `undefined` is false, as in the C
//   (argc > 1), so a driver that forwards an unset option gets the same repeated start here as there;
// - close(): releases the address; using a closed instance throws.
// The shape is types/i2c.d.ts's (`embedded:io/i2c`), the one declaration of it.
// Written like firmware: runs in the Node lane and inside XS.
import { world } from "../../../devices/world.ts";
import type { SimI2CBus } from "../../../devices/i2c-bus.ts";
import type { I2CBuffer as Bytes, I2COptions } from "embedded:io/i2c";

const open = new Set<string>();

function view(buffer: Bytes): Uint8Array {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  throw new TypeError("i2c: expected an ArrayBuffer or a typed array");
}

export default class I2C {
  #bus: SimI2CBus | undefined;
  readonly #address: number;
  readonly #key: string;

  constructor(options: I2COptions) {
    if (options === null || typeof options !== "object") throw new TypeError("i2c: options required");
    if (options.data === undefined) throw new RangeError("data required");
    if (options.clock === undefined) throw new RangeError("clock required");
    if (options.address === undefined) throw new RangeError("address required");
    const address = options.address;
    if (!Number.isInteger(address) || address < 0 || address > 127) throw new RangeError("invalid address");
    const hz = Math.trunc(Number(options.hz));
    if (!(hz > 0 && hz <= 20_000_000)) throw new RangeError("invalid hz");
    const key = `${options.data}/${options.clock}/${address}`;
    if (open.has(key)) throw new RangeError("duplicate address");
    this.#bus = world().busOn(options.data, options.clock);
    this.#address = address;
    this.#key = key;
    open.add(key);
  }

  read(count: number, stop?: boolean): ArrayBuffer;
  read(buffer: Bytes, stop?: boolean): number;
  read(target: number | Bytes, stop?: boolean): ArrayBuffer | number {
    const bus = this.#live();
    const into = typeof target === "number" ? undefined : view(target);
    const count = into ? into.length : Math.trunc(target as number);
    if (!(count >= 0)) throw new RangeError("invalid count");
    const bytes = bus.read(this.#address, count, arguments.length > 1 ? Boolean(stop) : true);
    if (bytes === undefined) throw new Error("read failed");
    if (into) {
      into.set(bytes.subarray(0, count));
      return count;
    }
    const out = new Uint8Array(count);
    out.set(bytes.subarray(0, count));
    return out.buffer;
  }

  write(buffer: Bytes, stop?: boolean): number | undefined {
    const bus = this.#live();
    const bytes = view(buffer);
    const ack = bus.write(this.#address, bytes, arguments.length > 1 ? Boolean(stop) : true);
    if (bytes.length === 0) return ack ? undefined : 1;
    if (!ack) throw new Error("write failed");
    return undefined;
  }

  close(): void {
    if (this.#bus === undefined) return;
    this.#bus = undefined;
    open.delete(this.#key);
  }

  #live(): SimI2CBus {
    const bus = this.#bus;
    if (bus === undefined) throw new Error("closed");
    return bus;
  }
}

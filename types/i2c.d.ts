// ECMA-419 `embedded:io/i2c` as Moddable implements it (modules/io/i2c/esp32/_i2c.c). The one
// declaration of the I2C shape: drivers/sensor.ts derives its I2C types from it, and the simulator's
// shim (tools/sim/modules/embedded/io/i2c.ts) is checked against it wherever it is passed as `io`.
// Declared here rather than taken from @moddable/typings' embedded_io/i2c.d.ts, which misses what the
// drivers rely on:
// - `close()` is missing;
// - `write()` of a zero-length buffer is the bus probe: it returns 1 when the address does not
//   acknowledge (undefined when it does) instead of throwing; a non-empty write that is not
//   acknowledged throws ("write failed"), as does a read ("read failed");
// - `read(buffer)` fills the buffer and returns the number of bytes read; `read(count)` returns a new
//   ArrayBuffer;
// - `stop` counts when it is passed at all: an explicit `undefined` is false (no stop condition), so
//   leave the argument out for the default (true);
// - `hz` is required (the constructor throws "invalid hz" without it), `timeout`, `pullup`, `port`
//   are optional.
declare module "embedded:io/i2c" {
  export type I2CBuffer = ArrayBuffer | Uint8Array;
  export interface I2COptions {
    data: number;
    clock: number;
    hz: number;
    address: number;
    port?: number;
    timeout?: number;
    pullup?: boolean;
  }
  class I2C {
    constructor(options: I2COptions);
    read(count: number, stop?: boolean): ArrayBuffer;
    read(buffer: I2CBuffer, stop?: boolean): number;
    write(buffer: I2CBuffer, stop?: boolean): number | undefined;
    close(): void;
  }
  export { I2C as default };
}

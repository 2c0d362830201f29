// ECMA-419 `embedded:io/i2c` as Moddable implements it (modules/io/i2c/esp32/_i2c.c). Declared here
// rather than taken from @moddable/typings' embedded_io/i2c.d.ts, which misses what the drivers rely on:
// - `close()` is missing;
// - `write()` of a zero-length buffer is the bus probe: it returns 1 when the address does not
//   acknowledge (undefined when it does) instead of throwing; a non-empty write that is not
//   acknowledged throws ("write failed"), as does a read ("read failed");
// - `read(buffer)` fills and returns that same buffer (a view), `read(count)` returns a new ArrayBuffer;
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
    read<T extends I2CBuffer>(buffer: T, stop?: boolean): T;
    write(buffer: I2CBuffer, stop?: boolean): number | undefined;
    close(): void;
  }
  export { I2C as default };
}

// The older Moddable `pins/i2c` as the SDK implements it (modules/pins/i2c/i2c.js + i2c.c). The
// drivers use ECMA-419 `embedded:io/i2c` (types/i2c.d.ts); this is for code written against the older
// API, which the simulator also provides (sim/modules/pins/i2c.ts). @moddable/typings' pins/i2c.d.ts
// says read() returns void: it returns the bytes (a new Uint8Array, or the ArrayBuffer passed in), and
// undefined when the device did not answer; write() throws "write failed" (or, with `throw: false`,
// returns an Error). At most 40 bytes per read or write.
declare module "pins/i2c" {
  type Writable = number | string | ArrayBuffer | ArrayLike<number>;
  class I2C {
    constructor(dictionary: { address: number; sda?: number; scl?: number; hz?: number; throw?: boolean });
    close(): void;
    read(count: number): Uint8Array | undefined;
    read(count: number, buffer: ArrayBuffer): ArrayBuffer | undefined;
    write(...values: (Writable | boolean)[]): Error | undefined;
  }
  export { I2C as default };
}

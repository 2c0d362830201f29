// ECMA-419 `embedded:storage/flash` as Moddable implements it on the ESP32
// (modules/io/flash/esp32/flash-esp32.c over esp_partition_*): open({path}) finds a data partition by
// name ("can't find partition" otherwise); read(byteLength, offset) returns a new ArrayBuffer,
// read(buffer, offset) fills `buffer` and returns its length; eraseBlock(start[, end]) erases whole
// blocks (end exclusive); status() gives size, blockLength (the erase size, 4 KB) and blocks. The
// simulators' shim is tools/sim/modules/embedded/storage/flash.ts.
declare module "embedded:storage/flash" {
  export type FlashBuffer = ArrayBuffer | ArrayBufferView;
  export interface FlashStatus {
    readonly size: number;
    readonly blockLength: number;
    readonly blocks: number;
  }
  export interface Flash {
    close(): void;
    eraseBlock(start: number, end?: number): void;
    read(byteLength: number, byteOffset: number): ArrayBuffer;
    read(buffer: FlashBuffer, byteOffset: number): number;
    write(buffer: FlashBuffer, byteOffset: number): void;
    status(): FlashStatus;
    readonly format: "buffer";
  }
  const FlashStorage: {
    open(options: { path: string; mode?: "r" | "r+" }): Flash;
  };
  export default FlashStorage;
}

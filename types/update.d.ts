// ECMA-419 `embedded:update` as the Moddable SDK implements it on the ESP32 (modules/io/update/esp32,
// over esp_ota_begin/write/end and esp_ota_set_boot_partition). Not in @moddable/typings.
// open({partition}) takes a flash handle, `FlashStorage.open({path: "nextota"})`; mode "a" (default)
// appends, "w" writes at offsets; complete() validates the image and makes its slot the boot slot;
// close() before complete() aborts. Errors are thrown as "begin failed", "write failed", "end failed".
declare module "embedded:update" {
  import type { Flash } from "embedded:storage/flash";
  export interface Update {
    write(buffer: ArrayBuffer | ArrayBufferView, byteOffset?: number): void;
    complete(): void;
    close(): void;
    readonly format: "buffer";
  }
  const UpdateModule: {
    open(options: { partition: Flash; mode?: "a" | "w"; byteLength?: number }): Update;
  };
  export default UpdateModule;
}

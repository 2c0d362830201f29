// `mc/ffi`: mcconfig generates it from manifest.json's platforms.esp32 "ffi" functions (the SDK's FFI,
// tools/ffi.js): a class whose methods call the named ESP-IDF functions. These are the ones this
// project declares (docs/moddable.md "OTA and rollback").
declare module "mc/ffi" {
  export default class FFI {
    constructor();
    /** Restarts the chip; does not return on the board. */
    esp_restart(): void;
    /** Marks the running app valid (ends the rollback window); 0 is ESP_OK. */
    esp_ota_mark_app_valid_cancel_rollback(): number;
  }
}

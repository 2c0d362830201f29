// The ESP32's OTA parts (docs/moddable.md "OTA and rollback"): the next app slot through the SDK's
// `embedded:update` over the "nextota" flash partition (esp_ota_*), and two ESP-IDF functions called
// through the SDK's FFI (manifest.json platforms.esp32 "ffi"): esp_restart, and
// esp_ota_mark_app_valid_cancel_rollback, which ends the bootloader's rollback window
// (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, sdkconfig/sdkconfig.defaults). Under `npm start` the same file
// runs over the simulator's shims of those modules.
import FlashStorage from "embedded:storage/flash";
import type { Flash } from "embedded:storage/flash";
import UpdateModule from "embedded:update";
import type { Update } from "embedded:update";
import FFI from "mc/ffi";
import type { AppSlot, OtaPlatform } from "../types";

class Slot implements AppSlot {
  #partition: Flash | undefined;
  #update: Update | undefined;
  #size = -1;

  get size(): number {
    if (this.#size < 0) {
      const p = FlashStorage.open({ path: "nextota" });
      try {
        this.#size = p.status().size;
      } finally {
        p.close();
      }
    }
    return this.#size;
  }

  begin(size: number): void {
    this.abort();
    const partition = FlashStorage.open({ path: "nextota" });
    this.#partition = partition;
    // Appending: esp_ota_begin erases as the image grows (OTA_WITH_SEQUENTIAL_WRITES), not 1.6 MB at once.
    this.#update = UpdateModule.open({ partition });
    void size;
  }

  write(bytes: ArrayBuffer): void {
    if (this.#update === undefined) throw new Error("ota: slot not open");
    this.#update.write(bytes);
  }

  complete(): void {
    if (this.#update === undefined) throw new Error("ota: slot not open");
    try {
      this.#update.complete();
    } finally {
      this.abort();
    }
  }

  abort(): void {
    const u = this.#update;
    const p = this.#partition;
    this.#update = undefined;
    this.#partition = undefined;
    u?.close();
    p?.close();
  }
}

class Esp32Ota implements OtaPlatform {
  readonly slot = new Slot();
  readonly #natives = new FFI();

  restart(): void {
    this.#natives.esp_restart();
  }

  markValid(): boolean {
    return this.#natives.esp_ota_mark_app_valid_cancel_rollback() === 0;
  }
}

export default function openOta(): OtaPlatform | undefined {
  return new Esp32Ota();
}

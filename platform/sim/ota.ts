// The Moddable desktop simulators have no app slot (the SDK's embedded:update is ESP32 and macOS only,
// and nothing would boot what it wrote). The OTA client still runs there as far as that allows: it
// reports its version and checks for tasks over the SDK's http, and a task is refused before any
// download with the platform's "no space" step (102), as a board whose slot is too small would.
// `npm start` runs platform/esp32/ota.ts over the simulator's embedded:update, mc/ffi and flash
// shims instead.
import type { AppSlot, OtaPlatform } from "../types";

class NoSlot implements AppSlot {
  readonly size = 0;
  begin(): void {
    throw new Error("ota: no app slot on the desktop simulator");
  }
  write(): void {
    throw new Error("ota: no app slot on the desktop simulator");
  }
  complete(): void {
    throw new Error("ota: no app slot on the desktop simulator");
  }
  abort(): void {}
}

class DesktopOta implements OtaPlatform {
  readonly slot = new NoSlot();
  restart(): void {
    throw new Error("ota: the desktop simulator cannot restart itself");
  }
  markValid(): boolean {
    return true; // no bootloader, no rollback window
  }
}

export default function openOta(): OtaPlatform | undefined {
  return new DesktopOta();
}

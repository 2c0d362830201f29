// The Moddable desktop simulators have no app slots (the SDK's embedded:update is ESP32 and macOS
// only, and nothing would boot what it wrote): no OTA there. `npm start` runs platform/esp32/ota.ts
// over the simulator's embedded:update, mc/ffi and flash shims instead.
import type { OtaPlatform } from "../types";

export default function openOta(): OtaPlatform | undefined {
  return undefined;
}

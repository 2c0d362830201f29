// The simulated ESP32 bootloader (host side, npm start and tests): picks the app slot to boot from the
// otadata record with ESP-IDF's rollback rules (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE; the rules in
// tools/sim/lib/otadata.ts) and loads its image from the slot file:
//  - state "new": booted as "pending" (pending verify);
//  - state "pending" at boot: the app restarted before marking itself valid: the previous slot boots;
//  - ota_0 never written over the air: the project's own source bundle (a board flashed by cable);
//  - a slot whose image does not read: the previous slot, as the bootloader skips an invalid app.
import type { Storage } from "./storage.ts";
import { OTADATA_KEY, parseOtaData, type Slot } from "./lib/otadata.ts";
import { parseImage, type Image } from "./image.ts";

export interface BootChoice {
  readonly slot: Slot;
  /** undefined: the project's own source (ota_0 as flashed by cable). */
  readonly image: Image | undefined;
  /** One line for the console: what boots and why. */
  readonly note: string;
  readonly rolledBack: boolean;
}

function load(storage: Storage, slot: Slot): Image | undefined | Error {
  const bytes = storage.slotRead(slot);
  if (bytes === undefined || bytes.length === 0) return slot === "ota_0" ? undefined : new Error("empty slot");
  try {
    return parseImage(bytes);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

export function bootloader(storage: Storage): BootChoice {
  const data = parseOtaData(storage.get(OTADATA_KEY));
  let note: string;
  let rolledBack = false;
  if (data.state === "new") {
    data.state = "pending";
    note = `booting ${data.boot}: a new image, pending verify (it must mark itself valid, or the next restart goes back to ${data.previous})`;
  } else if (data.state === "pending") {
    note = `rollback: ${data.boot} restarted without marking itself valid; booting ${data.previous}`;
    data.boot = data.previous;
    data.state = "valid";
    rolledBack = true;
  } else note = `booting ${data.boot}`;
  let image = load(storage, data.boot);
  if (image instanceof Error) {
    note = `${data.boot} holds no bootable image (${image.message}); booting ${data.previous}`;
    data.boot = data.previous;
    data.state = "valid";
    rolledBack = true;
    image = load(storage, data.boot);
    if (image instanceof Error) {
      data.boot = "ota_0";
      image = undefined;
    }
  }
  data.running = data.boot;
  storage.set(OTADATA_KEY, JSON.stringify(data));
  return { slot: data.boot, image, note: `${note}${image ? ` (image version ${image.version})` : " (the project's source)"}`, rolledBack };
}

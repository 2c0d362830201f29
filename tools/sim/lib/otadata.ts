// The simulated `otadata` partition: which app slot boots and in what state, with ESP-IDF's rollback
// rules (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, docs/moddable.md "OTA and rollback"). Shared by the
// firmware-side shims (embedded:update, mc/ffi, embedded:storage/flash "nextota") and the host-side
// bootloader (tools/sim/boot.ts); kept as JSON under one key of the host storage. Lane-neutral.
//
// - A board flashed by cable runs ota_0 (the simulator: the project's own source bundle, as long as
//   ota_0 was never written over the air) with no otadata: valid.
// - Update.complete() sets the boot slot to the one just written, state "new".
// - The bootloader boots a "new" slot as "pending" (pending verify); if the app restarts while its slot
//   is still pending, the slot is aborted and the previous slot boots again.
// - esp_ota_mark_app_valid_cancel_rollback() turns "pending" into "valid".

export type Slot = "ota_0" | "ota_1";
export type SlotState = "new" | "pending" | "valid";

export interface OtaData {
  /** The slot the bootloader boots next. */
  boot: Slot;
  state: SlotState;
  /** The slot running now (set by the bootloader at each boot). */
  running: Slot;
  /** The slot to fall back to when `boot` fails to prove itself. */
  previous: Slot;
}

/** Host storage key of the otadata record. */
export const OTADATA_KEY = "otadata";
/** Bytes of each app slot (partitions.csv: ota_0 and ota_1, 0x1A0000). */
export const SLOT_BYTES = 0x1a0000;

export function initialOtaData(): OtaData {
  return { boot: "ota_0", state: "valid", running: "ota_0", previous: "ota_0" };
}

export function parseOtaData(text: string | undefined): OtaData {
  if (text === undefined) return initialOtaData();
  try {
    const d = JSON.parse(text) as Partial<OtaData>;
    const slot = (s: unknown): s is Slot => s === "ota_0" || s === "ota_1";
    if (slot(d.boot) && slot(d.running) && slot(d.previous) && (d.state === "new" || d.state === "pending" || d.state === "valid")) {
      return { boot: d.boot, state: d.state, running: d.running, previous: d.previous };
    }
  } catch {
    // an unreadable otadata reads as erased, as the bootloader treats a bad CRC
  }
  return initialOtaData();
}

/** The slot esp_ota_get_next_update_partition(NULL) gives: the other one. */
export function nextSlot(d: OtaData): Slot {
  return d.running === "ota_0" ? "ota_1" : "ota_0";
}

/** The first bytes of every image the simulator boots (tools/sim/image.ts). */
export const IMAGE_MAGIC = "XSIMG1\n";

/**
 * An app partition opened through embedded:storage/flash ("nextota" or "running"): the handle
 * embedded:update takes. Reading and writing it directly is not simulated (the firmware goes through
 * embedded:update).
 */
export class AppPartition {
  readonly slot: Slot;
  readonly writable: boolean;
  #open = true;
  constructor(slot: Slot, writable: boolean) {
    this.slot = slot;
    this.writable = writable;
  }
  get open(): boolean {
    return this.#open;
  }
  status(): { size: number; blockLength: number; blocks: number } {
    return { size: SLOT_BYTES, blockLength: 4096, blocks: SLOT_BYTES / 4096 };
  }
  read(): never {
    throw new Error("flash (sim): reading an app partition is not simulated");
  }
  write(): never {
    throw new Error("flash (sim): write an app partition through embedded:update");
  }
  eraseBlock(): never {
    throw new Error("flash (sim): erase an app partition through embedded:update");
  }
  close(): void {
    this.#open = false;
  }
  get format(): "buffer" {
    return "buffer";
  }
}

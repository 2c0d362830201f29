// Outbox storage on the Moddable `preference` module (ESP32: NVS; the simulator: a file).
// One message per key. ESP32 limits (documentation/files/files.md, "Preference"): domain and key
// names at most 15 characters, values at most 4000 bytes; flash wears with every write and erase, so
// the outbox writes a record only for a message a reboot must not lose (see "Flash wear" in ./outbox).
// Any call may throw ("nvs set fail", "nvs erase fail"); the outbox guards every one.

import Preference from "preference";
import type { OutboxStorage } from "./outbox";

export class PreferenceStorage implements OutboxStorage {
  readonly maxRecordSize = 4000;
  readonly slots: number;
  readonly #domain: string;

  /** `domain` at most 15 characters; `slots` the most messages kept across a reboot (default 100). */
  constructor(domain = "mqtt-outbox", slots = 100) {
    if (typeof domain !== "string" || domain.length === 0 || domain.length > 15) {
      throw new RangeError("storage domain must be 1..15 characters");
    }
    if (!(slots >= 1 && slots <= 9999) || slots !== Math.floor(slots)) {
      throw new RangeError("storage slots must be a whole number 1..9999");
    }
    this.#domain = domain;
    this.slots = slots;
  }

  read(slot: number): ArrayBuffer | undefined {
    const value = Preference.get(this.#domain, "m" + slot);
    return value instanceof ArrayBuffer ? value : undefined;
  }

  write(slot: number, record: ArrayBuffer): void {
    Preference.set(this.#domain, "m" + slot, record);
  }

  remove(slot: number): void {
    Preference.delete(this.#domain, "m" + slot);
  }
}

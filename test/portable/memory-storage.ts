// Outbox storage in memory for tests: one object outlives the Outbox and Session objects, so a test
// "reboots" by building new ones on the same storage. Counts writes and erases (a wear budget can be
// stated) and fails on request as NVS does ("nvs set fail", "nvs erase fail"). Portable (runs in XS).
import type { OutboxStorage } from "../../mqtt/outbox";

export class MemoryStorage implements OutboxStorage {
  readonly maxRecordSize: number;
  readonly slots: number;
  readonly records = new Map<number, ArrayBuffer>();
  writes = 0;
  erases = 0;
  /** Make write / remove throw until cleared. */
  failWrite = false;
  failRemove = false;

  constructor(slots = 100, maxRecordSize = 4000) {
    this.slots = slots;
    this.maxRecordSize = maxRecordSize;
  }

  read(slot: number): ArrayBuffer | undefined {
    const r = this.records.get(slot);
    return r ? r.slice(0) : undefined;
  }

  write(slot: number, record: ArrayBuffer): void {
    if (slot < 0 || slot >= this.slots) throw new RangeError(`slot ${slot} out of range`);
    // As NVS: the old value is erased first and stays erased when the write fails.
    this.records.delete(slot);
    if (this.failWrite) throw new Error("nvs set fail");
    this.writes++;
    this.records.set(slot, record.slice(0));
  }

  remove(slot: number): void {
    if (this.failRemove) throw new Error("nvs erase fail");
    if (this.records.delete(slot)) this.erases++;
  }
}

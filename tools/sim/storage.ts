// Host-side persistent storage behind `preference` (and anything else that persists): a JSON file,
// written through on every change, so a new lane opened on the same file sees the same data
// (a simulated reboot). Without a path it lives in memory only.
// The OTA app slots (ota_0, ota_1: whole firmware images, too large for the JSON) are files beside it,
// `<path>.<slot>.bin` (in memory without a path).
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";

export class Storage {
  readonly path: string | undefined;
  readonly #data = new Map<string, string>();
  writes = 0;

  constructor(path?: string) {
    this.path = path;
    if (path !== undefined && existsSync(path)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(path, "utf8"));
      } catch {
        // Not the parser's message: it quotes the file's text.
        throw new Error(`flash file ${path} is not valid JSON (delete it, or start with fresh=1)`);
      }
      if (typeof parsed !== "object" || parsed === null) throw new Error(`flash file ${path} is not a JSON object (delete it, or start with fresh=1)`);
      for (const [key, value] of Object.entries(parsed)) if (typeof value === "string") this.#data.set(key, value);
    }
  }

  get(key: string): string | undefined {
    return this.#data.get(key);
  }

  set(key: string, value: string | undefined): void {
    if (value === undefined) this.#data.delete(key);
    else this.#data.set(key, value);
    this.writes++;
    this.#flush();
  }

  keys(prefix: string): string[] {
    return [...this.#data.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  snapshot(): Record<string, string> {
    return Object.fromEntries([...this.#data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  readonly #slots = new Map<string, Uint8Array>();

  /** The file of an OTA slot (undefined without a path). */
  slotPath(slot: string): string | undefined {
    return this.path === undefined ? undefined : `${this.path}.${slot}.bin`;
  }

  slotErase(slot: string): void {
    checkSlot(slot);
    const file = this.slotPath(slot);
    if (file === undefined) this.#slots.set(slot, new Uint8Array(0));
    else writeFileSync(file, new Uint8Array(0));
  }

  slotWrite(slot: string, offset: number, bytes: Uint8Array): void {
    checkSlot(slot);
    const file = this.slotPath(slot);
    if (file === undefined) {
      const old = this.#slots.get(slot) ?? new Uint8Array(0);
      const grown = new Uint8Array(Math.max(old.length, offset + bytes.length));
      grown.set(old);
      grown.set(bytes, offset);
      this.#slots.set(slot, grown);
      return;
    }
    const fd = openSync(file, existsSync(file) ? "r+" : "w+");
    try {
      writeSync(fd, bytes, 0, bytes.length, offset);
    } finally {
      closeSync(fd);
    }
  }

  /** The bytes of an OTA slot, or undefined when it was never written. */
  slotRead(slot: string): Uint8Array | undefined {
    checkSlot(slot);
    const file = this.slotPath(slot);
    if (file === undefined) return this.#slots.get(slot);
    return existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined;
  }

  /** Removes the slot files (npm start fresh=1). */
  slotsClear(): void {
    this.#slots.clear();
    for (const slot of SLOTS) {
      const file = this.slotPath(slot);
      if (file !== undefined) rmSync(file, { force: true });
    }
  }

  #flush(): void {
    if (this.path === undefined) return;
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.snapshot(), null, 1));
    renameSync(tmp, this.path);
  }
}

const SLOTS = ["ota_0", "ota_1"];

function checkSlot(slot: string): void {
  if (!SLOTS.includes(slot)) throw new Error(`sim: no OTA slot ${slot}`);
}

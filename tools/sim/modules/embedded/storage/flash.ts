// ECMA-419 `embedded:storage/flash` for the simulators: a NOR-flash partition as the ESP32 has it
// (Moddable modules/io/flash/esp32 over esp_partition_*), so the ring log meets flash's real rules:
// - open({path}) finds a data partition by name (the table below mirrors partitions.csv;
//   test/store-flash.test.ts checks they agree); an unknown name throws "can't find partition";
// - erase sets a whole 4 KB block to 0xFF; a write can only clear bits (the stored byte becomes
//   old AND new, as NOR does silently); read(byteLength, offset) or read(buffer, offset);
// - status() -> {size, blockLength, blocks, writeAlign, eraseValue}.
// - "nextota" and "running" open the app slots as handles for embedded:update (tools/sim/lib/otadata.ts).
// Contents persist through the host storage in 256-byte pages (the NOR program page), keyed
// `flash/<partition>/<page>`, so a lane rebooted on the same storage finds them; an erased page has no key.
// Named control "flash.nor" (tests): `cut write <n>` / `cut erase <n>` makes the next write (erase)
// stop after n bytes and throw "power lost", as a power cut part-way would leave it; `poke <offset>
// <hex>` sets raw bytes (corruption, ignoring the NOR rule); `stats` answers JSON (erases per block,
// writes, bytes written, bytes programmed twice in one lap); `ok` clears a pending cut. Lane-neutral.
import { control, host } from "../../../host.ts";
import { AppPartition, nextSlot, OTADATA_KEY, parseOtaData } from "../../../lib/otadata.ts";

const BLOCK = 4096;
const PAGE = 256;
const parts = new Map<string, { bytes: Uint8Array; wear: Wear }>();
const cut = { write: -1, erase: -1 };

/** Data partitions of the project's partitions.csv: name -> bytes. */
export const PARTITIONS: { readonly [name: string]: number } = { readings: 0x90000 };
/** Extra partitions tests define (small rings that wrap quickly). */
const extra = new Map<string, number>();

/** Defines a partition of `bytes` (whole 4 KB blocks) for tests; not on the board. */
export function definePartition(name: string, bytes: number): void {
  if (!(bytes > 0 && bytes % BLOCK === 0)) throw new Error("flash: a partition is whole 4 KB blocks");
  extra.set(name, bytes);
  parts.delete(name);
}

interface Wear {
  erases: number[];
  writes: number;
  bytes: number;
  /** Bytes programmed while not erased: each byte should be written once per erase. */
  rewrites: number;
}

type Bytes = ArrayBuffer | ArrayBufferView;

function view(buffer: Bytes): Uint8Array {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  throw new TypeError("flash: expected an ArrayBuffer or a typed array");
}

function hex(bytes: Uint8Array, from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  return s;
}


function partition(name: string): { bytes: Uint8Array; wear: Wear } {
  let p = parts.get(name);
  if (p !== undefined) return p;
  const size = PARTITIONS[name] ?? extra.get(name);
  if (size === undefined) throw new Error("can't find partition");
  const bytes = new Uint8Array(size).fill(0xff);
  const prefix = `flash/${name}/`;
  for (const key of host().storageKeys(prefix)) {
    const text = host().storageGet(key);
    const page = Number(key.slice(prefix.length));
    if (text === undefined || !(page >= 0 && page * PAGE < size)) continue;
    for (let i = 0; i < PAGE && i * 2 < text.length; i++) bytes[page * PAGE + i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  }
  p = { bytes, wear: { erases: new Array<number>(size / BLOCK).fill(0), writes: 0, bytes: 0, rewrites: 0 } };
  parts.set(name, p);
  return p;
}

/** Writes pages [from, to) of `name` through to the host (a page of 0xFF has no key). */
function persist(name: string, bytes: Uint8Array, from: number, to: number): void {
  for (let page = Math.floor(from / PAGE); page * PAGE < to; page++) {
    let erased = true;
    for (let i = page * PAGE; i < (page + 1) * PAGE; i++) {
      if (bytes[i] !== 0xff) {
        erased = false;
        break;
      }
    }
    const key = `flash/${name}/${page}`;
    if (erased) {
      if (host().storageGet(key) !== undefined) host().storageSet(key, undefined);
    } else host().storageSet(key, hex(bytes, page * PAGE, (page + 1) * PAGE));
  }
}

control("flash.nor", (arg) => {
  const words = arg.trim().split(/\s+/);
  if (words[0] === "stats") {
    const out: { [name: string]: Wear } = {};
    for (const [name, p] of parts) out[name] = p.wear;
    return JSON.stringify(out);
  }
  if (words[0] === "cut" && (words[1] === "write" || words[1] === "erase") && Number(words[2]) >= 0) {
    cut[words[1]] = Number(words[2]);
    return "ok";
  }
  if (words[0] === "poke" && words.length === 4) {
    const p = partition(words[1]);
    const at = Number(words[2]);
    const data = words[3];
    for (let i = 0; i * 2 < data.length; i++) p.bytes[at + i] = parseInt(data.slice(i * 2, i * 2 + 2), 16);
    persist(words[1], p.bytes, at, at + data.length / 2);
    return "ok";
  }
  if (words[0] === "ok") {
    cut.write = -1;
    cut.erase = -1;
    return "ok";
  }
  throw new Error('flash.nor: use "stats", "cut write <n>", "cut erase <n>", "poke <partition> <offset> <hex>" or "ok"');
});

export class Flash {
  readonly #name: string;
  readonly #bytes: Uint8Array;
  readonly #wear: Wear;
  readonly #readOnly: boolean;
  #closed = false;

  constructor(name: string, readOnly: boolean) {
    const p = partition(name);
    this.#name = name;
    this.#bytes = p.bytes;
    this.#wear = p.wear;
    this.#readOnly = readOnly;
  }

  get format(): "buffer" {
    return "buffer";
  }

  close(): void {
    this.#closed = true;
  }

  status(): { size: number; blockLength: number; blocks: number; writeAlign: number; eraseValue: number } {
    this.#check(false);
    const size = this.#bytes.length;
    return { size, blockLength: BLOCK, blocks: size / BLOCK, writeAlign: 1, eraseValue: 0xff };
  }

  read(length: number, byteOffset: number): ArrayBuffer;
  read(buffer: Bytes, byteOffset: number): number;
  read(what: number | Bytes, byteOffset: number): ArrayBuffer | number {
    this.#check(false);
    if (typeof what === "number") {
      this.#range(byteOffset, what, "read");
      return this.#bytes.slice(byteOffset, byteOffset + what).buffer;
    }
    const into = view(what);
    this.#range(byteOffset, into.length, "read");
    into.set(this.#bytes.subarray(byteOffset, byteOffset + into.length));
    return into.length;
  }

  write(buffer: Bytes, byteOffset: number): void {
    this.#check(true);
    const data = view(buffer);
    this.#range(byteOffset, data.length, "write");
    const bytes = this.#bytes;
    const wear = this.#wear;
    let n = data.length;
    const torn = cut.write >= 0 && cut.write < n;
    if (torn) n = cut.write;
    cut.write = -1;
    for (let i = 0; i < n; i++) {
      const at = byteOffset + i;
      if (bytes[at] !== 0xff) wear.rewrites++;
      bytes[at] &= data[i];
    }
    wear.writes++;
    wear.bytes += n;
    persist(this.#name, bytes, byteOffset, byteOffset + Math.max(n, 1));
    if (torn) throw new Error("power lost");
  }

  eraseBlock(start: number, end?: number): void {
    this.#check(true);
    const stop = end === undefined ? start + 1 : end;
    const blocks = this.#bytes.length / BLOCK;
    if (!(Number.isInteger(start) && Number.isInteger(stop) && start >= 0 && stop <= blocks && start < stop)) throw new Error("erase failed");
    for (let block = start; block < stop; block++) {
      let n = BLOCK;
      const torn = cut.erase >= 0 && cut.erase < n;
      if (torn) n = cut.erase;
      cut.erase = -1;
      this.#bytes.fill(0xff, block * BLOCK, block * BLOCK + n);
      this.#wear.erases[block]++;
      persist(this.#name, this.#bytes, block * BLOCK, (block + 1) * BLOCK);
      if (torn) throw new Error("power lost");
    }
  }

  #check(writing: boolean): void {
    if (this.#closed) throw new Error("closed");
    if (writing && this.#readOnly) throw new Error("read-only");
  }

  #range(offset: number, length: number, what: string): void {
    if (!(Number.isInteger(offset) && offset >= 0 && offset + length <= this.#bytes.length)) throw new Error(`${what} failed`);
  }
}

const FlashStorage = Object.freeze({
  open(options: { path: string; mode?: "r" | "r+" }): Flash {
    if (typeof options?.path !== "string") throw new Error("no path");
    if (options.mode !== undefined && options.mode !== "r" && options.mode !== "r+") throw new Error("invalid mode");
    // The app slots as the ESP32's flash module names them (esp_ota_get_next_update_partition /
    // esp_ota_get_running_partition): handles for embedded:update (tools/sim/lib/otadata.ts).
    if (options.path === "nextota" || options.path === "running") {
      const data = parseOtaData(host().storageGet(OTADATA_KEY));
      return new AppPartition(options.path === "nextota" ? nextSlot(data) : data.running, options.mode !== "r") as unknown as Flash;
    }
    return new Flash(options.path, options.mode === "r");
  },
});

export default FlashStorage;

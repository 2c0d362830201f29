// Moddable "preference" as the ESP32 has it (modules/files/preference/esp32 over NVS): typed values per
// (domain, key), persisted by the host (a JSON file in the simulator) so they survive a reboot.
// The board's rules are enforced so the simulator is no kinder than flash (docs/moddable.md):
// - domain and key at most 15 characters; a value at most 4000 bytes;
// - numbers are stored as signed 32-bit integers (a fraction throws "float unsupported");
// - the 24 KB NVS partition fills up: a set that does not fit throws "nvs set fail";
// - a set erases the old value before writing the new one, so a failed set loses the old value;
// - writes and erases are counted per key, so tests can state a wear budget.
// Failures can be injected through the named control "flash" (`fail set`, `fail delete`, `ok`), and
// `stats` answers the counts as JSON. Lane-neutral.
import { control, host } from "../host.ts";

const MAX_NAME = 15;
const MAX_VALUE = 4000;
// NVS keeps entries of 32 bytes in 4 KB pages of 126 entries; one page is kept free for garbage
// collection, so a 24 KB partition holds 5 pages of data. A value costs one header entry plus its
// data in whole entries (a blob also a chunk index entry).
const ENTRY = 32;
const CAPACITY = 5 * 126 * ENTRY;

type Value = string | boolean | number | ArrayBuffer;

interface Wear {
  writes: number;
  erases: number;
}

const wear = new Map<string, Wear>();
const failing = { set: false, delete: false };

function wearOf(name: string): Wear {
  let w = wear.get(name);
  if (w === undefined) wear.set(name, (w = { writes: 0, erases: 0 }));
  return w;
}

control("flash", (arg) => {
  const [verb, what] = arg.trim().split(/\s+/);
  if (verb === "stats") {
    let writes = 0;
    let erases = 0;
    const keys: Record<string, Wear> = {};
    for (const [name, w] of wear) {
      writes += w.writes;
      erases += w.erases;
      keys[name.slice("pref/".length)] = { ...w };
    }
    return JSON.stringify({ writes, erases, used: used(), capacity: CAPACITY, keys });
  }
  if (verb === "fail" && (what === "set" || what === "delete")) {
    failing[what] = true;
    return "ok";
  }
  if (verb === "ok") {
    failing.set = false;
    failing.delete = false;
    return "ok";
  }
  throw new Error('flash: use "stats", "fail set", "fail delete" or "ok"');
});

function storageKey(domain: string, key: string): string {
  if (typeof domain !== "string" || domain.length === 0 || domain.length > MAX_NAME) {
    throw new Error(`preference: domain "${String(domain)}" must be 1..${MAX_NAME} characters`);
  }
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_NAME) {
    throw new Error(`preference: key "${String(key)}" must be 1..${MAX_NAME} characters`);
  }
  return `pref/${domain}/${key}`;
}

/** Flash an encoded value takes in NVS. */
function cost(encoded: string): number {
  const kind = encoded[0];
  const body = encoded.length - 2;
  if (kind === "b" || kind === "n") return ENTRY;
  const bytes = kind === "a" ? body / 2 : body + 1;
  return ENTRY * (1 + Math.ceil(bytes / ENTRY) + (kind === "a" ? 1 : 0));
}

// Bytes in use, counted once from the store (after a reboot) and then kept up to date.
let usedBytes: number | undefined;

function used(): number {
  if (usedBytes === undefined) {
    usedBytes = 0;
    for (const name of host().storageKeys("pref/")) {
      const encoded = host().storageGet(name);
      if (encoded !== undefined) usedBytes += cost(encoded);
    }
  }
  return usedBytes;
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  return s;
}

function unhex(text: string): ArrayBuffer {
  const out = new Uint8Array(text.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out.buffer;
}

function encode(value: Value): string {
  if (typeof value === "boolean") return value ? "b:1" : "b:0";
  if (typeof value === "number") {
    if (value !== Math.trunc(value)) throw new Error("float unsupported");
    return `n:${value | 0}`;
  }
  if (typeof value === "string") {
    if (value.length > MAX_VALUE) throw new Error("nvs set fail");
    return `s:${value}`;
  }
  if (value instanceof ArrayBuffer) {
    if (value.byteLength > MAX_VALUE) throw new Error("nvs set fail");
    return `a:${hex(new Uint8Array(value))}`;
  }
  throw new Error("unsupported type");
}

function erase(name: string): void {
  const old = host().storageGet(name);
  if (old === undefined) return;
  usedBytes = used() - cost(old);
  host().storageSet(name, undefined);
  wearOf(name).erases++;
}

const Preference = {
  set(domain: string, key: string, value: Value): void {
    const name = storageKey(domain, key);
    const encoded = encode(value);
    // As on the board: the old value is erased first, and stays erased if the write then fails.
    erase(name);
    if (failing.set || used() + cost(encoded) > CAPACITY) throw new Error("nvs set fail");
    host().storageSet(name, encoded);
    usedBytes = used() + cost(encoded);
    wearOf(name).writes++;
  },
  get(domain: string, key: string): Value | undefined {
    const encoded = host().storageGet(storageKey(domain, key));
    if (encoded === undefined) return undefined;
    const body = encoded.slice(2);
    switch (encoded[0]) {
      case "b":
        return body === "1";
      case "n":
        return Number(body);
      case "s":
        return body;
      case "a":
        return unhex(body);
      default:
        return undefined;
    }
  },
  delete(domain: string, key: string): void {
    const name = storageKey(domain, key);
    if (failing.delete) throw new Error("nvs erase fail");
    erase(name);
  },
  keys(domain: string): string[] {
    const prefix = `pref/${domain}/`;
    return host()
      .storageKeys(prefix)
      .map((k) => k.slice(prefix.length));
  },
};

export default Preference;

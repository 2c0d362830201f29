// Moddable "preference": typed values per (domain, key), persisted by the host (a JSON file in the
// simulator), so they survive a simulated reboot. Board limits are enforced: domain and key at most
// 15 bytes (ESP32 NVS key length), a value at most 4000 bytes (NVS blob limit used by Moddable's
// esp32 preference). Lane-neutral.
import { host } from "../host.ts";

const MAX_NAME = 15;
const MAX_VALUE = 4000;

type Value = string | boolean | number | ArrayBuffer;

function storageKey(domain: string, key: string): string {
  if (typeof domain !== "string" || domain.length === 0 || domain.length > MAX_NAME) {
    throw new Error(`preference: domain "${String(domain)}" must be 1..${MAX_NAME} characters`);
  }
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_NAME) {
    throw new Error(`preference: key "${String(key)}" must be 1..${MAX_NAME} characters`);
  }
  return `pref/${domain}/${key}`;
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

const Preference = {
  set(domain: string, key: string, value: Value): void {
    const name = storageKey(domain, key);
    let encoded: string;
    if (typeof value === "boolean") encoded = value ? "b:1" : "b:0";
    else if (typeof value === "number") {
      if (!Number.isInteger(value)) throw new Error("preference: numbers must be integers");
      encoded = `n:${value}`;
    } else if (typeof value === "string") {
      if (value.length > MAX_VALUE) throw new Error("preference: value too long");
      encoded = `s:${value}`;
    } else if (value instanceof ArrayBuffer) {
      if (value.byteLength > MAX_VALUE) throw new Error("preference: value too long");
      encoded = `a:${hex(new Uint8Array(value))}`;
    } else throw new Error("preference: unsupported value type");
    host().storageSet(name, encoded);
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
    host().storageSet(storageKey(domain, key), undefined);
  },
  keys(domain: string): string[] {
    const prefix = `pref/${domain}/`;
    return host()
      .storageKeys(prefix)
      .map((k) => k.slice(prefix.length));
  },
};

export default Preference;

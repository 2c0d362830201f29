// The simulator's OTA pieces in the Node lane: the `http` shim's Request (the SDK's callback surface)
// against a tiny node:http server (ranged GET streamed by fragments, a JSON answer with `response`,
// chunked bodies, a connection cut mid-body -> error), `embedded:update` over the "nextota" flash handle
// (slot file, boot switch only on complete(), abort), mc/ffi (restart, mark valid), and the bootloader's
// ESP-IDF rollback rules (tools/sim/boot.ts).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { mkdtempSync, rmSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { Request } from "../tools/sim/modules/http.ts";
import FlashStorage from "../tools/sim/modules/embedded/storage/flash.ts";
import UpdateModule from "../tools/sim/modules/embedded/update.ts";
import FFI from "../tools/sim/modules/mc/ffi.ts";
import { Storage } from "../tools/sim/storage.ts";
import { bootloader } from "../tools/sim/boot.ts";
import { IMAGE_MAGIC, OTADATA_KEY, parseOtaData } from "../tools/sim/lib/otadata.ts";
import { until } from "./helpers/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "sim-ota-"));
const IMAGE = new Uint8Array(50_000).map((_, i) => (i * 13 + 5) & 0xff);
const requests: { path: string; range?: string; auth?: string }[] = [];
let cutNext = false;

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  requests.push({ path: req.url ?? "", range: req.headers.range, auth: req.headers.authorization });
  if (req.url === "/json") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(`{"code":0,"msg":"succ"}`);
    return;
  }
  if (req.url === "/chunked") {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.write(Buffer.from(IMAGE.subarray(0, 3000)));
    res.end(Buffer.from(IMAGE.subarray(3000, 7000)));
    return;
  }
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
  if (!m) {
    res.writeHead(416);
    res.end();
    return;
  }
  const from = Number(m[1]);
  const to = Number(m[2]);
  const body = Buffer.from(IMAGE.subarray(from, to + 1));
  res.writeHead(206, { "content-range": `bytes ${from}-${to}/${IMAGE.length}`, "content-length": String(body.length), "content-type": "application/octet-stream" });
  if (cutNext) {
    cutNext = false;
    res.write(body.subarray(0, 2000));
    setTimeout(() => res.socket?.destroy(), 50);
    return;
  }
  res.end(body);
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
const port = (server.address() as { port: number }).port;
nodeLane.useRealClock();

after(async () => {
  nodeLane.shutdown();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

interface Seen {
  status?: number;
  headers: Map<string, string>;
  body: number[];
  text?: string;
  end?: "complete" | "error";
  messages: number[];
}

function get(path: string, headers: string[], response?: typeof String): Seen {
  const seen: Seen = { headers: new Map(), body: [], messages: [] };
  const r = new Request({ host: "127.0.0.1", port, path, headers, ...(response ? { response } : {}) });
  r.callback = (message: number, value?: unknown, etc?: unknown) => {
    seen.messages.push(message);
    if (message === Request.status) seen.status = value as number;
    else if (message === Request.header) seen.headers.set(value as string, etc as string);
    else if (message === Request.responseFragment) {
      const bytes = new Uint8Array(r.read(ArrayBuffer, value as number));
      for (const b of bytes) seen.body.push(b);
    } else if (message === Request.responseComplete) {
      seen.end = "complete";
      if (typeof value === "string") seen.text = value;
    } else if (message === Request.error) seen.end = "error";
  };
  return seen;
}

test("http: a ranged GET streams exactly the range by fragments, with the SDK's callbacks in order", async () => {
  const seen = get("/img", ["Authorization", "tok", "Range", "bytes=1000-20999"]);
  await until(() => seen.end !== undefined, "the request to end");
  assert.equal(seen.end, "complete");
  assert.equal(seen.status, 206);
  assert.equal(seen.headers.get("content-range"), `bytes 1000-20999/${IMAGE.length}`);
  assert.deepEqual(seen.body, Array.from(IMAGE.subarray(1000, 21000)));
  assert.equal(seen.messages[0], 1);
  assert.ok(seen.messages.indexOf(3) > seen.messages.lastIndexOf(2), "headersComplete after every header");
  assert.equal(seen.messages[seen.messages.length - 1], 5);
  const last = requests[requests.length - 1];
  assert.equal(last.range, "bytes=1000-20999");
  assert.equal(last.auth, "tok");
});

test("http: response String collects a JSON answer; chunked bodies are decoded", async () => {
  const json = get("/json", [], String);
  await until(() => json.end !== undefined, "the JSON request to end");
  assert.equal(json.text, `{"code":0,"msg":"succ"}`);
  const chunked = get("/chunked", []);
  await until(() => chunked.end !== undefined, "the chunked request to end");
  assert.equal(chunked.end, "complete");
  assert.deepEqual(chunked.body, Array.from(IMAGE.subarray(0, 7000)));
});

test("http: a connection cut before the body is complete ends in error (-2), after the bytes that came", async () => {
  cutNext = true;
  const seen = get("/img", ["Range", "bytes=0-9999"]);
  await until(() => seen.end !== undefined, "the request to end");
  assert.equal(seen.end, "error");
  assert.ok(seen.body.length >= 1 && seen.body.length < 10_000, `${seen.body.length} bytes before the cut`);
  assert.deepEqual(seen.body, Array.from(IMAGE.subarray(0, seen.body.length)));
});

function image(version: string): Uint8Array {
  // A bootable image as tools/sim/image.ts lays it out (tiny code, empty source map).
  const code = "globalThis.__sim&&0;";
  const map = JSON.stringify({ version: 3, sources: [], names: [], mappings: "" });
  return new TextEncoder().encode(`${IMAGE_MAGIC}${JSON.stringify({ version, code: code.length, map: map.length })}\n${code}${map}`);
}

test("update: writes the next slot's file; only complete() switches the boot slot (new), close() alone changes nothing", () => {
  nodeLane.useStorage(join(dir, "flash.json"));
  const storage = nodeLane.storage;
  const img = image("2.0.0");
  // abandoned: written, closed without complete()
  let u = UpdateModule.open({ partition: FlashStorage.open({ path: "nextota" }) });
  u.write(img.subarray(0, 40));
  u.close();
  assert.equal(storage.get(OTADATA_KEY), undefined, "no boot switch");
  // complete
  const partition = FlashStorage.open({ path: "nextota" });
  assert.equal((partition as unknown as { slot: string }).slot, "ota_1", "from ota_0 the next slot is ota_1");
  u = UpdateModule.open({ partition });
  u.write(img.subarray(0, 100));
  u.write(img.slice(100).buffer as ArrayBuffer);
  u.complete();
  u.close();
  assert.ok(existsSync(join(dir, "flash.json.ota_1.bin")));
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, "flash.json.ota_1.bin"))), img);
  assert.deepEqual(parseOtaData(storage.get(OTADATA_KEY)), { boot: "ota_1", state: "new", running: "ota_0", previous: "ota_0" });
  assert.throws(() => u.write(img), /closed/);
});

test("update: an image without the magic is refused by complete() (esp_ota_end), the boot slot stays", () => {
  nodeLane.useStorage(join(dir, "flash2.json"));
  const u = UpdateModule.open({ partition: FlashStorage.open({ path: "nextota" }) });
  u.write(new Uint8Array(64).fill(0x41));
  assert.throws(() => u.complete(), /end failed/);
  assert.equal(nodeLane.storage.get(OTADATA_KEY), undefined);
});

test("boot: a new image boots pending; marked valid it stays; restarted while pending it rolls back", () => {
  const storage = new Storage(join(dir, "boot.json"));
  nodeLane.storage = storage;
  const write = (version: string) => {
    const u = UpdateModule.open({ partition: FlashStorage.open({ path: "nextota" }) });
    u.write(image(version));
    u.complete();
    u.close();
  };
  assert.equal(bootloader(storage).image, undefined, "a board flashed by cable: the source in ota_0");
  write("2.0.0");
  const first = bootloader(storage);
  assert.equal(first.slot, "ota_1");
  assert.equal(first.image?.version, "2.0.0");
  assert.equal(parseOtaData(storage.get(OTADATA_KEY)).state, "pending");
  // the app restarts before marking itself valid: back to the previous slot
  const back = bootloader(storage);
  assert.ok(back.rolledBack);
  assert.equal(back.slot, "ota_0");
  assert.equal(back.image, undefined);
  // again, this time the new image marks itself valid
  write("2.0.1");
  assert.equal(bootloader(storage).image?.version, "2.0.1");
  assert.equal(new FFI().esp_ota_mark_app_valid_cancel_rollback(), 0);
  const stays = bootloader(storage);
  assert.ok(!stays.rolledBack);
  assert.equal(stays.slot, "ota_1");
  assert.equal(stays.image?.version, "2.0.1");
  // the next update goes to the other slot, ota_0
  assert.equal((FlashStorage.open({ path: "nextota" }) as unknown as { slot: string }).slot, "ota_0");
});

test("mc/ffi esp_restart asks the lane to restart", () => {
  const before = nodeLane.restarts;
  new FFI().esp_restart();
  assert.equal(nodeLane.restarts, before + 1);
  assert.equal(nodeLane.events[nodeLane.events.length - 1].detail, "restart");
});

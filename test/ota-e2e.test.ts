// Updates over the air end to end as a user runs them: `npm start` (the firmware in XS on the real clock,
// held to the board's memory and stack) against the OneNET emulator's fuse-ota API, with an image built
// like `npm run image`. The API traffic goes through a proxy of this test that can cut the link or flip
// one byte of a download. In one run of the device, in order:
//   - a task for the running version is not downloaded;
//   - an image larger than the slot is refused with 102 before any download;
//   - a corrupted byte fails the MD5 (205) and version A keeps running (no restart);
//   - a real update from A to B with the link cut mid-download resumes at the last written byte,
//     completes (101), the board restarts into B, which reports B and 201; every reading taken
//     before, during and after the update reaches the platform.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { CHUNK } from "../onenet/ota.ts";
import { startEmulator } from "../tools/emulator/index.ts";
import { untilOta } from "../tools/emulator/testing.ts";
import { buildImage } from "../tools/sim/image.ts";
import { SLOT_BYTES } from "../tools/sim/lib/otadata.ts";
import { endToEnd, startSim } from "./helpers/sim-start.ts";
import { until } from "./helpers/wait.ts";

const { dir, own } = endToEnd("ota-e2e-");
const DEVICE = { product: "OtaE2E0001", device: "ota-dev-1", key: "b3RhLWUyZS10ZXN0LWtleS0wMDAwMDAwMDAwMDE=" };

/** HTTP API proxy: `cutAfter` cuts a download connection after that many body bytes; `corrupt` flips one body byte of the next download. */
class ApiProxy {
  cutAfter = -1;
  corrupt = false;
  cuts = 0;
  flips = 0;
  readonly #server: Server;
  port = 0;
  constructor(target: number) {
    this.#server = createServer((client: Socket) => {
      const upstream = connect(target, "127.0.0.1");
      client.on("data", (d) => upstream.write(d));
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.end());
      let head = Buffer.alloc(0);
      let body = -1; // body bytes seen (-1: still in the headers)
      let download = false;
      upstream.on("data", (d: Buffer) => {
        let chunk = Buffer.from(d);
        if (body < 0) {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf("\r\n\r\n");
          if (end < 0) return;
          download = head.subarray(0, end).toString("latin1").startsWith("HTTP/1.1 206");
          chunk = head.subarray(end + 4);
          client.write(head.subarray(0, end + 4));
          body = 0;
        }
        if (download && this.corrupt && chunk.length > 10) {
          this.corrupt = false;
          this.flips++;
          chunk[10] ^= 0x20;
        }
        if (download && this.cutAfter >= 0 && body + chunk.length > this.cutAfter) {
          client.write(chunk.subarray(0, this.cutAfter - body));
          this.cutAfter = -1;
          this.cuts++;
          client.destroy();
          upstream.destroy();
          return;
        }
        body += chunk.length;
        client.write(chunk);
      });
    });
  }
  listen(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(0, "127.0.0.1", () => {
      this.port = (this.#server.address() as { port: number }).port;
      resolve();
    }));
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

test("npm start: OTA from A to B through the emulator (same version, too large, MD5, resume, restart, 201, readings kept)", { timeout: 600_000 }, async () => {
  const imageB = await buildImage("1.1.0");
  const emulator = own(await startEmulator({ host: "127.0.0.1", port: 0, httpPort: 0, devices: [DEVICE], log: () => {} }));
  const proxy = own(new ApiProxy(emulator.httpPort));
  await proxy.listen();
  const temps = new Set<number>();
  emulator.events.on("event", (e: { type: string; identifier?: string; time?: number; device?: string }) => {
    if (e.type === "property" && e.identifier === "temp" && e.time !== undefined) temps.add(e.time);
  });

  // A task for the version the device runs, there before it boots: its check at boot finds nothing to do.
  const same = emulator.startOta(new Uint8Array(1000).fill(1), "1.0.0");

  let out = "";
  const child = own(startSim(DEVICE, ["host=127.0.0.1", `port=${emulator.port}`, "tls=0", "interval=1", `otaHost=127.0.0.1`, `otaPort=${proxy.port}`, "otaTls=0",
    `flash=${join(dir, "flash.json")}`, "fresh=1"], (text) => (out += text)));
  const tail = (): string => out.slice(-4000);
  const entry = { product: DEVICE.product, device: DEVICE.device };

  const sameState = await untilOta(emulator, entry, (s) => s.tid === same.tid && s.version === "1.0.0" && s.checks >= 1, 60_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${tail()}`);
  });
  assert.equal(sameState.downloads, 0);
  assert.deepEqual(sameState.steps, []);

  await until(() => temps.size >= 1, "a first reading at the platform (the device is subscribed)", 30_000);
  // Larger than the slot: 102, before any download.
  const big = emulator.startOta(new Uint8Array(SLOT_BYTES + 1), "9.9.9");
  const bigState = await untilOta(emulator, entry, (s) => s.tid === big.tid && s.result !== undefined && s.informReplies >= 1, 30_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${tail()}`);
  });
  assert.deepEqual(bigState.steps, [102]);
  assert.equal(bigState.downloads, 0);

  // One byte flipped in transit: the MD5 fails, 205, and A keeps running.
  proxy.corrupt = true;
  const bad = emulator.startOta(imageB, "1.1.0");
  const badState = await untilOta(emulator, entry, (s) => s.tid === bad.tid && s.result !== undefined, 180_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${tail()}`);
  });
  assert.equal(proxy.flips, 1);
  assert.equal(badState.result, 205, JSON.stringify(badState));
  assert.ok(!badState.steps.includes(101));
  assert.ok(!/restarted the board/.test(out), "no restart after a failed MD5");

  // The real update, the link cut part-way through a chunk: resumed at the last written byte.
  proxy.cutAfter = 5000;
  const good = emulator.startOta(imageB, "1.1.0");
  const goodState = await untilOta(emulator, entry, (s) => s.tid === good.tid && s.result !== undefined, 300_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${tail()}`);
  });
  assert.equal(proxy.cuts, 1);
  assert.equal(goodState.result, 201, `${JSON.stringify(goodState)}\n${tail()}`);
  assert.ok(goodState.steps.includes(101) && goodState.steps.indexOf(101) < goodState.steps.indexOf(201));
  assert.equal(goodState.version, "1.1.0");
  const resumed = /ota: download interrupted: resumes at=(\d+)/.exec(out);
  assert.ok(resumed, `the download resumed\n${tail()}`);
  assert.ok(Number(resumed[1]) > 0 && Number(resumed[1]) % CHUNK !== 0, `resumed mid-chunk at the last written byte: ${resumed[1]}`);
  assert.match(out, /\[sim\] the firmware restarted the board/);
  assert.match(out, /\[sim\] booting ota_1: a new image, pending verify.*image version 1\.1\.0/);
  assert.match(out, /config: ok .*version=1\.1\.0/);
  assert.match(out, /ota: new image proved itself: marked valid/);

  // Every reading taken, on A and on B, reaches the platform.
  const readings = (): number => (out.match(/ INFO app: report (id|temp)=/g) ?? []).length;
  const mark = readings();
  await until(() => temps.size >= mark, `${mark} readings at the platform`, 120_000).catch((e: Error) => {
    throw new Error(`${e.message}: ${temps.size} arrived\n${tail()}`);
  });
  child.kill("SIGINT");
});

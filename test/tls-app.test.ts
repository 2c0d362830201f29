// The app (main.ts) in the real XS engine over TLS, as the board runs it by default: against the OneNET
// emulator's TLS listener (its test CA handed to the device with the sim-only ca= key), reports and a
// cloud set go through; with OneNET's real CA pinned, the emulator's certificate is refused and no
// CONNECT ever leaves. Tokens on a virtual clock (device and emulator): a token made at t expires at
// t + tokenTtl, a reconnect after that carries a new one, and a login refused as expired (CONNACK 4,
// the emulator's 1104) makes the device ask for the time before its next try. An unknown clock: the
// login waits for SNTP 10 s after Wi-Fi, then goes with the far-future et (plain TCP), or cannot open
// TLS at all (the SDK checks certificate dates against the clock). `npm start` runs TLS by default.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { XsLane, boardCreation } from "../tools/sim/xs-lane.ts";
import { startEmulator, VirtualClock, verifyToken, type Emulator, type EmulatorOptions } from "../tools/emulator/index.ts";
import { makeTestPki } from "../tools/emulator/pki.ts";
import { DEMO } from "../tools/sim/start.ts";
import { Decoder } from "../mqtt/decode.ts";
import type { ConnectPacket } from "../mqtt/packets.ts";
import { DEFAULT_ET } from "../onenet/config.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tls-app-"));
const lanes: XsLane[] = [];
const emulators: Emulator[] = [];
after(async () => {
  for (const lane of lanes) await lane.close();
  for (const e of emulators) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

const DEVICE = {
  product: "TlsTest001",
  device: "tls-device",
  // base64 of "tls-app-test-device-key-00000001"
  key: "dGxzLWFwcC10ZXN0LWRldmljZS1rZXktMDAwMDAwMDE=",
};
const WIFI = { ssid: "sim-ap", password: "wifi-secret-pw" };

async function emulator(clock?: VirtualClock, lines: string[] = [], tls?: EmulatorOptions["tls"]): Promise<Emulator> {
  const e = await startEmulator({ host: "127.0.0.1", port: 0, tlsPort: 0, tls, httpPort: 0, devices: [DEVICE], clock, log: (l) => lines.push(l) });
  emulators.push(e);
  return e;
}

async function lane(options: Parameters<typeof XsLane.start>[0]): Promise<XsLane> {
  const l = await XsLane.start({ entry: "main.ts", ...options });
  lanes.push(l);
  return l;
}

/** Every CONNECT the device wrote (decoded from the stream it handed to the link, inside TLS). */
function connects(l: XsLane): ConnectPacket[] {
  const found: ConnectPacket[] = [];
  const decoders = new Map<number, Decoder>();
  l.link.onTraffic = (direction, id, bytes) => {
    if (direction !== "out") return;
    let d = decoders.get(id);
    if (d === undefined) decoders.set(id, (d = new Decoder()));
    for (const p of d.push(bytes.slice())) if (p.cmd === "connect") found.push(p);
  };
  return found;
}
const tokenOf = (c: ConnectPacket): string => Buffer.from(c.password ?? new Uint8Array()).toString("utf8");
const etOf = (c: ConnectPacket): number => Number(new URLSearchParams(tokenOf(c)).get("et"));
const count = (l: XsLane, pattern: RegExp): number => l.logs.filter((line) => pattern.test(line)).length;
/** Waits (real time) for `predicate`; on time-out the error carries the device log. */
async function until(l: XsLane, predicate: () => boolean, what: string): Promise<void> {
  try {
    await l.waitFor(predicate, 20_000, what);
  } catch (error) {
    throw new Error(`${String(error)}\ndevice log:\n${l.logs.join("\n")}`);
  }
}

test("over TLS to the emulator (its test CA given with ca=): login, reports and a cloud set; no handshake error", async () => {
  const e = await emulator();
  const posts = new Set<string>();
  e.events.on("event", (ev: { type: string; id?: string }) => {
    if (ev.type === "post" && ev.id !== undefined) posts.add(ev.id);
  });
  const l = await lane({ clock: "real", storagePath: join(dir, "tls.json"), config: { ...WIFI, ...DEVICE, host: "127.0.0.1", port: String(e.tlsPort), ca: e.tlsCaPath!, interval: "1" } });
  await until(l, () => posts.size >= 2, "two posts at the emulator");
  assert.ok(l.logs.some((line) => / INFO config: ok .*tls=true /.test(line)));
  assert.equal(count(l, / INFO mqtt: connected /), 1);
  const set = await e.setProperties(DEVICE.product, DEVICE.device, { interval: 2 });
  assert.equal(set.code, 200, JSON.stringify(set));
  assert.ok(!l.logs.some((line) => /TLS|securesocket|WARN config/.test(line)), l.logs.join("\n"));
  assert.equal(l.fatal, undefined);
  await l.close();
});

test("with OneNET's CA pinned (no ca=), the emulator's certificate is refused: one ERROR line per try, the reason, the backoff, and the emulator never sees a CONNECT", async () => {
  const emuLines: string[] = [];
  const e = await emulator(undefined, emuLines);
  const l = await lane({ clock: "real", storagePath: join(dir, "pinned.json"), config: { ...WIFI, ...DEVICE, host: "127.0.0.1", port: String(e.tlsPort) } });
  const sent = connects(l);
  await until(l, () => count(l, / ERROR mqtt: TLS handshake failed, no CONNECT sent /) >= 2, "two refused handshakes");
  assert.ok(l.logs.some((line) => line.startsWith("securesocket: TLS handshake failed: the server certificate is not signed by the trusted CA")), l.logs.join("\n"));
  assert.ok(l.logs.some((line) => / INFO mqtt: connection lost, reconnect scheduled reason="TLS handshake failed" delay=\d+/.test(line)));
  assert.deepEqual(sent, [], "the device wrote no MQTT byte");
  assert.ok(!emuLines.some((line) => line.includes(DEVICE.device) || /login|CONNECT|connect refused/.test(line)), emuLines.join("\n"));
  assert.ok(!e.devices().some((d) => d.online));
  await l.close();
});

/** Lets real I/O between the device and the emulator finish: no bytes moving for a few turns. */
async function quiet(l: XsLane): Promise<void> {
  let last = -1;
  for (let stable = 0; stable < 3; ) {
    await l.idle();
    await new Promise((r) => setTimeout(r, 3));
    const now = l.link.stats.bytesIn + l.link.stats.bytesOut + l.link.stats.connects;
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
}

/**
 * Advances the device's clock and the emulator's together in steps of 5 s, letting the I/O of each
 * step finish first (a keepalive ping is answered before the device's clock runs past its deadline).
 */
async function both(l: XsLane, clock: VirtualClock, ms: number): Promise<void> {
  for (let done = 0; done < ms; done += 5000) {
    const step = Math.min(5000, ms - done);
    await l.advance(step);
    clock.advance(step);
    await quiet(l);
  }
}

test("token expiry on a virtual clock: et = t + tokenTtl; a reconnect after it carries a new token; a login refused as expired (CONNACK 4) asks SNTP before the next try", async () => {
  // Certificates first: the device's clock must be inside their dates (they start at the second they are made).
  const pki = makeTestPki();
  after(() => pki.remove());
  const start = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  const clock = new VirtualClock(start);
  const emuLines: string[] = [];
  const e = await emulator(clock, emuLines, { chain: pki.server.chain, key: pki.server.key, caPath: pki.ca.certPath });
  const l = await lane({ epoch: start, storagePath: join(dir, "ttl.json"), config: { ...WIFI, ...DEVICE, host: "127.0.0.1", port: String(e.tlsPort), ca: e.tlsCaPath!, interval: "600", tokenTtl: "300" } });
  const sent = connects(l);
  await both(l, clock, 1000); // Wi-Fi joins
  await until(l, () => count(l, / INFO mqtt: connected /) === 1, "the first login");
  assert.equal(sent.length, 1);
  const t1 = etOf(sent[0]) - 300;
  assert.ok(t1 >= start / 1000 && t1 <= start / 1000 + 1, `made at the device's time: et ${etOf(sent[0])}, start ${start / 1000}`);

  // 400 s later the first token has expired at the platform; a new connection carries a new one.
  await both(l, clock, 400_000);
  const keyFor = (): string => DEVICE.key;
  const check = (c: ConnectPacket) => verifyToken({ token: tokenOf(c), product: DEVICE.product, device: DEVICE.device, keyFor, nowSeconds: Math.floor(clock.now() / 1000) });
  assert.deepEqual(check(sent[0]), { ok: false, code: 1104 }, "the first token is expired by now");
  l.link.hangup();
  await until(l, () => count(l, / WARN mqtt: broker closed the connection/) === 1, "the drop noticed");
  await both(l, clock, 2000); // the reconnect delay (at most 1 s)
  await until(l, () => count(l, / INFO mqtt: connected /) === 2, "the second login");
  assert.equal(sent.length, 2);
  const reconnectedAt = Number(/^(\d+) INFO mqtt: connecting /m.exec(l.logs.filter((line) => / INFO mqtt: connecting /.test(line))[1])?.[1]);
  // Made when the handshake finished: between the reconnect and now, on the device's clock.
  const made = etOf(sent[1]) - 300;
  assert.ok(made >= Math.floor((start + reconnectedAt) / 1000) && made <= Math.ceil(l.clock.epoch() / 1000), `made at the device's time of the reconnect (${reconnectedAt} ms after boot)`);
  assert.ok(etOf(sent[1]) >= etOf(sent[0]) + 400, `a new token: ${etOf(sent[0])} -> ${etOf(sent[1])}`);
  assert.equal(check(sent[1]).ok, true);

  // The platform's clock runs ahead of the device's: the device's fresh token is already expired there.
  clock.advance(1000_000);
  const syncsBefore = count(l, / INFO time: using the host clock/);
  l.link.hangup();
  await until(l, () => count(l, / WARN mqtt: broker closed the connection/) === 2, "the second drop noticed");
  await both(l, clock, 2000);
  await until(l, () => count(l, / ERROR mqtt: OneNET refused the login code=4 /) === 1, "the refusal");
  assert.ok(emuLines.some((line) => /login failed: 1104 token expired .*connack=4/.test(line)), emuLines.join("\n"));
  assert.ok(l.logs.some((line) => / WARN time: login refused with a token that expires: asking SNTP before the next try et=\d+/.test(line)), l.logs.join("\n"));
  assert.equal(count(l, / INFO time: using the host clock/), syncsBefore + 1, "the clock was asked again");
  assert.equal(l.fatal, undefined);
  await l.close();
});

// The SDK's TLS (modules/crypt/ssl, JS) keeps its session, records and handshake arithmetic in the XS
// heap; in the lane the host does the TLS, so the firmware's own peak must leave room for it. Measured
// on the SDK's lin simulator (64-bit) with this app through the same outage and drain: TLS needed at
// most 53,248 bytes of chunks where plain TCP needed over 40,960 (README, "Memory"): 12 KB for TLS.
const SDK_TLS_CHUNKS = 12 * 1024;
const SDK_TLS_SLOTS = 512;

// This run overflowed the board's 512-slot stack in about half the runs until the uplink stopped
// sending a history batch from under the report (the socket write sat 370 slots deep, the TLS write
// below it; found with an xsnap that prints its frames at the overflow). Whether a batch met a
// writable socket at that moment depended on timing, hence "half the runs".
test("TLS app through a 2-minute outage, then draining its backlog over TLS at 1 msg/s: the firmware stays within the esp32 creation with room for the SDK's TLS session", { timeout: 120_000 }, async () => {
  const pki = makeTestPki();
  after(() => pki.remove());
  const start = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  const clock = new VirtualClock(start);
  const e = await emulator(clock, [], { chain: pki.server.chain, key: pki.server.key, caPath: pki.ca.certPath });
  let history = 0;
  e.events.on("event", (ev: { type: string; values?: number }) => {
    if (ev.type === "history") history += ev.values ?? 0;
  });
  const l = await lane({ epoch: start, storagePath: join(dir, "drain.json"), config: { ...WIFI, ...DEVICE, host: "127.0.0.1", port: String(e.tlsPort), ca: e.tlsCaPath!, interval: "1" } });
  await both(l, clock, 3000);
  await until(l, () => count(l, / INFO mqtt: connected /) === 1, "the first login");
  l.link.refuse(true);
  l.link.reset();
  await both(l, clock, 120_000); // 120 readings wait in the log; every reconnect is refused
  assert.ok(count(l, / ERROR mqtt: TLS handshake failed, no CONNECT sent /) >= 3, l.logs.slice(-20).join("\n"));
  l.link.refuse(false);
  await both(l, clock, 60_000); // back: the backlog drains as history batches at the platform's 1 msg/s
  assert.ok(count(l, / INFO mqtt: connected /) >= 2, l.logs.slice(-20).join("\n"));
  assert.ok(history >= 100, `the backlog reached the platform as history (${history} values)`);
  assert.equal(l.fatal, undefined);
  await l.memoryUse();
  const board = boardCreation();
  console.log(`${l.peakLine()} (TLS app, outage and drain)`);
  assert.ok(l.peak.chunks + SDK_TLS_CHUNKS <= board.chunks, `firmware peak ${l.peak.chunks} bytes + ${SDK_TLS_CHUNKS} for the SDK's TLS within ${board.chunks}`);
  assert.ok(l.peak.slots + SDK_TLS_SLOTS <= board.slots, `firmware peak ${l.peak.slots} slots + ${SDK_TLS_SLOTS} for the SDK's TLS within ${board.slots}`);
  await l.close();
});

test("clock unknown, tls=0: the login waits 10 s after Wi-Fi for SNTP, then goes with the far-future et and says so", async () => {
  const e = await emulator();
  const l = await lane({ epoch: 0, storagePath: join(dir, "noclock.json"), config: { ...WIFI, ...DEVICE, tls: "0", host: "127.0.0.1", port: String(e.port) } });
  const sent = connects(l);
  await l.advance(1000); // Wi-Fi up at about 0.5 s
  assert.ok(l.logs.some((line) => / INFO time: clock unknown: the login waits for SNTP seconds=10/.test(line)), l.logs.join("\n"));
  const up = Number(/^(\d+) INFO app: network up/m.exec(l.logs.join("\n"))?.[1]);
  await l.advance(up + 9_999 - l.clock.now());
  assert.equal(count(l, / INFO mqtt: connecting /), 0, `no connection attempt during the wait:\n${l.logs.join("\n")}`);
  await l.advance(1);
  assert.ok(l.logs.some((line) => / WARN time: no time from SNTP: logging in with the far-future token \(config et\) waited=10 tls=off/.test(line)), l.logs.join("\n"));
  assert.ok(l.logs.some((line) => line.includes(`WARN onenet: clock unknown: login token with the far-future et=${DEFAULT_ET} (config et)`)));
  await until(l, () => count(l, / INFO mqtt: connected /) === 1, "login with the far-future token");
  assert.equal(etOf(sent[0]), DEFAULT_ET);
  assert.equal(l.fatal, undefined);
  await l.close();
});

test("clock unknown, tls=1: after the wait the SDK refuses to open TLS (certificate dates need the clock): no connection, the cause in the log", async () => {
  const e = await emulator();
  const l = await lane({ epoch: 0, storagePath: join(dir, "noclock-tls.json"), config: { ...WIFI, ...DEVICE, host: "127.0.0.1", port: String(e.tlsPort), ca: e.tlsCaPath! } });
  await l.advance(11_000);
  assert.ok(l.logs.some((line) => / WARN time: no time from SNTP: logging in with the far-future token \(config et\) waited=10 tls="cannot check the server certificate's dates until the clock is set"/.test(line)), l.logs.join("\n"));
  assert.ok(l.logs.some((line) => / WARN mqtt: socket failed error="Error: date validation failed"/.test(line)), l.logs.join("\n"));
  assert.equal(l.link.stats.connects, 0, "not even a TCP connection");
  // SNTP is asked again every minute while the clock is unknown.
  const asked = count(l, / INFO time: using the host clock/);
  await l.advance(60_000);
  assert.equal(count(l, / INFO time: using the host clock/), asked + 1);
  assert.equal(l.fatal, undefined);
  await l.close();
});

test("npm start runs TLS by default (the emulator's test CA handed over with ca=), and `tls=1 ca=<PEM> host= port=` reaches another server", async () => {
  const run = (args: string[]) => {
    const child = spawn(process.execPath, ["--import", "tsx", "tools/sim/start.ts", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    return { child, out: () => out, exited };
  };
  const until = async (r: ReturnType<typeof run>, pattern: RegExp, what: string): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!pattern.test(r.out())) {
      if (Date.now() > deadline || r.child.exitCode !== null) throw new Error(`${what}:\n${r.out()}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  const own = run([`flash=${join(dir, "start.json")}`, "interval=1"]);
  await until(own, /INFO app: report id=\d+ /, "a report over TLS");
  assert.match(own.out(), /\[sim\] TLS to the emulator: the device trusts its test CA \S+ca\.pem in place of OneNET's/);
  assert.match(own.out(), / INFO config: ok .*tls=true /);
  assert.match(own.out(), / INFO mqtt: connected /);
  own.child.kill("SIGINT");
  assert.equal(await own.exited, 0);

  const e = await startEmulator({ host: "127.0.0.1", port: 0, tlsPort: 0, httpPort: 0, devices: [{ product: DEMO.product, device: DEMO.device, key: DEMO.key }], log: () => {} });
  emulators.push(e);
  const other = run([`flash=${join(dir, "start2.json")}`, "tls=1", `ca=${e.tlsCaPath}`, "host=127.0.0.1", `port=${e.tlsPort}`]);
  await until(other, / INFO mqtt: connected /, "login at the other server");
  assert.ok(!/\[sim\] TLS to the emulator/.test(other.out()), "no emulator of its own");
  other.child.kill("SIGINT");
  assert.equal(await other.exited, 0);
});

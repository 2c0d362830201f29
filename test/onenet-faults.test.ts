// The device-to-emulator path under link faults: the firmware's OneNetClient (onenet/ on mqtt/ with
// the sim's socket and timer shims) reports through a TCP fault proxy to the local OneNET emulator,
// which enforces the platform's rules. OneNET keeps no session (clean session 1), so anything lost in
// flight must be resent by the device: every report must arrive, and a resent report must keep its
// id and its original time (docs/onenet.md: "the reply's id tells which posts arrived").
//
// Two independent records are compared: what the device put on the wire (the Node lane's TCP tap,
// decoded with mqtt/decode) and what the emulator accepted (its "post"/"property" events and its own
// resend detection in the device log).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { startEmulator, tokenSignature, type EmulatorEvent } from "../tools/emulator/index.ts";
import { OneNetClient } from "../onenet/client.ts";
import { parseConfig, DEFAULT_ET } from "../onenet/config.ts";
import { tapOutgoing } from "./helpers/wire-tap.ts";
import { FaultProxy } from "./helpers/fault-proxy.ts";
import { until } from "./helpers/wait.ts";
import { logTo } from "./portable/logger.ts";

nodeLane.useRealClock();
after(() => nodeLane.shutdown());

const PRODUCT = "FaultPr0d1";
const DEVICE = "dev-faults";
const KEY = Buffer.from("onenet-faults-test-key-987654321").toString("base64");
const REPORTS = 60;
// The device's clock, stepped per report; near the platform's (a token expires a day after it is made).
const EPOCH = Math.floor(Date.now() / 1000) * 1000;
const POST_TOPIC = `$sys/${PRODUCT}/${DEVICE}/thing/property/post`;

interface WireSend {
  conn: number;
  dup: boolean;
  payload: string;
}

test("reports through cut, acks lost, reset, platform disconnect and refused reconnects: each arrives, the platform takes a report twice only where the device resent it, resends are byte-identical (same id and time)", { timeout: 90_000 }, async () => {
  const emuLog: string[] = [];
  const emu = await startEmulator({
    devices: [{ product: PRODUCT, device: DEVICE, key: KEY }],
    log: (line) => emuLog.push(line),
    uplinkIntervalMs: 40, // the platform's 1 message/s, shortened on both sides for the test
  });
  const proxy = new FaultProxy(emu.port);
  await proxy.listen();

  // What the emulator accepted.
  const accepted = new Map<string, number[]>(); // report id -> post time, once per acceptance
  const uptimeTimes = new Map<number, number[]>(); // uptime value -> times it was recorded with
  const flaggedResend = new Map<string, number>(); // report id -> emulator log lines calling it a resend
  let offline = 0;
  emu.events.on("event", (e: EmulatorEvent) => {
    if (e.device !== DEVICE) return;
    if (e.type === "post") accepted.set(e.id, [...(accepted.get(e.id) ?? []), e.time]);
    if (e.type === "property" && e.identifier === "uptime") {
      uptimeTimes.set(e.value as number, [...(uptimeTimes.get(e.value as number) ?? []), e.time]);
    }
    if (e.type === "online" && !e.online) offline++;
    if (e.type === "log") {
      const m = /^property post id=(\d+) is a resend/.exec(e.line.text);
      if (m) flaggedResend.set(m[1]!, (flaggedResend.get(m[1]!) ?? 0) + 1);
      emuLog.push(e.line.text);
    }
  });

  // What the device put on the wire.
  const sent = new Map<string, WireSend[]>(); // report id -> every PUBLISH of it
  tapOutgoing((conn, p) => {
    if (p.cmd !== "publish" || p.topic !== POST_TOPIC) return;
    const payload = Buffer.from(p.payload).toString("utf8");
    const id = (JSON.parse(payload) as { id: string }).id;
    sent.set(id, [...(sent.get(id) ?? []), { conn, dup: p.dup === true, payload }]);
  });

  let clock = EPOCH;
  const logs: string[] = [];
  const onenet = new OneNetClient({
    config: parseConfig({ product: PRODUCT, device: DEVICE, key: KEY, host: "127.0.0.1", port: String(proxy.port) }),
    epochMs: () => clock,
    pacingMs: 40,
    log: logTo((level, area, message, fields) => logs.push(`${level} ${area}: ${message}${fields ? " " + JSON.stringify(fields) : ""}`)),
    mqtt: { reconnectMin: 50, reconnectMax: 400 },
  });
  const at = (id: number): Promise<void> => until(() => accepted.has(String(id)), `report ${id} at the platform`);
  try {
    onenet.connect();
    await until(() => onenet.online, "login through the proxy");
    // Reports are queued as they come (the device paces them at 40 ms); each fault waits until the
    // platform has the report before it, so the next ones are still queued or in flight when it hits.
    for (let n = 1; n <= REPORTS; n++) {
      clock = EPOCH + n * 1000;
      assert.equal(onenet.report({ temp: 20 + n / 10, uptime: n }), String(n), "ids count up per boot");
      if (n === 15) {
        await at(14);
        proxy.cut();
      }
      if (n === 20) {
        await at(19);
        proxy.dropDownstream(true); // from here the platform takes reports whose PUBACKs never arrive
      }
      if (n === 22) {
        await at(22);
        assert.ok(proxy.dropped.down > 0, "acknowledgements were dropped");
        proxy.cut();
        proxy.dropDownstream(false);
      }
      if (n === 30) {
        await at(29);
        proxy.reset();
      }
      if (n === 45) {
        await at(44);
        assert.ok(emu.disconnect(PRODUCT, DEVICE), "the platform had the device online to drop");
      }
      if (n === 50) {
        await at(49);
        proxy.refuse(true);
        proxy.reset();
      }
      if (n === 54) {
        await until(() => proxy.refused >= 2, "reconnect attempts refused");
        proxy.refuse(false);
      }
    }
    const missing = (): string[] => Array.from({ length: REPORTS }, (_, i) => String(i + 1)).filter((id) => !accepted.has(id));
    await until(() => missing().length === 0, "every report at the emulator", 60_000).catch((e: Error) => {
      throw new Error(`${e.message}: missing ${missing().join(",")}\n${logs.slice(-20).join("\n")}`);
    });

    // The faults hit: the platform saw the device go offline for each of cut, cut, reset, its own
    // disconnect and the last reset; the device logged each lost connection and the refusals.
    assert.ok(offline >= 5, `the platform saw the device offline ${offline} times`);
    const losses = logs.filter((l) => l.includes("connection lost")).length;
    assert.ok(losses >= 5 + 2, `the device lost its connection at each fault and at each refusal (${losses})\n${logs.join("\n")}`);

    for (let n = 1; n <= REPORTS; n++) {
      const id = String(n);
      const sends = sent.get(id) ?? [];
      const times = accepted.get(id) ?? [];
      assert.ok(sends.length >= 1, `report ${n} went on the wire`);
      // The device's record: one encoding per report, stamped when it was reported.
      const first = JSON.parse(sends[0]!.payload) as { params: Record<string, { time: number }> };
      assert.equal(first.params.uptime!.time, EPOCH + n * 1000, `report ${n} stamped with the device's time at report()`);
      for (const s of sends) assert.equal(s.payload, sends[0]!.payload, `report ${n} resent byte for byte (same id, same time)`);
      // Clean session: nothing is resent within a connection; a resend goes on a later one.
      const conns = sends.map((s) => s.conn);
      assert.equal(new Set(conns).size, conns.length, `report ${n} sent at most once per connection: ${conns.join(",")}`);
      // The emulator's record: every acceptance carries the device's time, and the platform took the
      // report no more often than the device sent it.
      assert.ok(times.length >= 1, `report ${n} accepted by the platform`);
      for (const t of times) assert.equal(t, EPOCH + n * 1000, `report ${n} kept its original time at the platform`);
      assert.ok(times.length <= sends.length, `report ${n}: platform took it ${times.length}x, device sent it ${sends.length}x`);
      assert.equal(flaggedResend.get(id) ?? 0, times.length - 1, `report ${n}: the emulator recognised each extra copy as a resend of the id`);
      const uptime = uptimeTimes.get(n) ?? [];
      assert.equal(uptime.length, times.length, `uptime ${n} recorded once per acceptance`);
      for (const t of uptime) assert.equal(t, EPOCH + n * 1000, `uptime ${n} kept its time`);
    }
    // Resends did happen: the reports taken without an acknowledgement came again, on a new connection.
    for (const n of [21, 22]) {
      assert.ok((accepted.get(String(n)) ?? []).length >= 2, `report ${n}, taken without an ack, reached the platform again`);
      assert.ok((flaggedResend.get(String(n)) ?? 0) >= 1, `the emulator flagged report ${n} as a resend`);
    }
    assert.equal(onenet.device.stats.refusedByPlatform, 0, logs.join("\n"));

    // Neither side logs the device key or any part of the token.
    const sign = tokenSignature(KEY, `products/${PRODUCT}/devices/${DEVICE}`, DEFAULT_ET, "sha256");
    for (const [who, lines] of [["device", logs], ["emulator", emuLog]] as const) {
      const text = lines.join("\n");
      assert.ok(text.length > 0, `${who} log captured`);
      for (const secret of [KEY, sign, encodeURIComponent(sign), "version=2018-10-31"]) {
        assert.ok(!text.includes(secret), `${who} log holds no key or token part`);
      }
    }
  } finally {
    nodeLane.link.onTraffic = undefined;
    onenet.end();
    await proxy.close();
    await emu.close();
  }
});

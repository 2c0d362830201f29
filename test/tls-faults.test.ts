// Link faults over TLS, end to end: the firmware's OneNetClient (onenet/ on mqtt/, over the securesocket
// shim, whose handshake is real TLS with the SDK's checks) reports through a TCP fault proxy
// (test/helpers/fault-proxy.ts, which forwards the TLS records untouched) to the OneNET emulator's TLS
// listener, with a test CA (tools/emulator/pki.ts). The faults: a cut (FIN), a silent blackhole that
// only the keepalive notices, acknowledgements lost, a reset, refused reconnects, an emulator restart,
// and, on a fresh connection, a blackhole or a cut in the middle of the TLS handshake.
//
// Three records are compared: what the proxy forwarded (ciphertext: one ClientHello per connection, no
// MQTT in clear), what the device put into its TLS stream (the Node lane's tap, decoded with
// mqtt/decode), and what the emulator accepted (its "post" events).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { startEmulator, verifyToken, type Emulator, type EmulatorEvent } from "../tools/emulator/index.ts";
import { makeTestPki, type TestPki } from "../tools/emulator/pki.ts";
import { OneNetClient } from "../onenet/client.ts";
import { parseConfig } from "../onenet/config.ts";
import { TLS_1_2 } from "../onenet/tls.ts";
import { tapOutgoing } from "./helpers/wire-tap.ts";
import type { ConnectPacket } from "../mqtt/packets.ts";
import { FaultProxy } from "./helpers/fault-proxy.ts";
import { until } from "./helpers/wait.ts";
import { logTo } from "./portable/logger.ts";

nodeLane.useRealClock();

const PRODUCT = "TlsFault01";
const DEVICE = "dev-tls-faults";
const KEY = Buffer.from("tls-faults-test-device-key-00001").toString("base64");
const POST_TOPIC = `$sys/${PRODUCT}/${DEVICE}/thing/property/post`;
const TOKEN_TTL = 3600;
// The device's clock, stepped per report; near the platform's (the certificates and tokens need it).
const EPOCH = Math.floor(Date.now() / 1000) * 1000;

let pki: TestPki;
before(() => {
  pki = makeTestPki();
});
after(() => {
  nodeLane.shutdown();
  pki?.remove();
});

/** The emulator's TLS listener with the test CA's server certificate, on fixed ports after a restart. */
async function emulator(ports: { port: number; tlsPort: number }, lines: string[]): Promise<Emulator> {
  return startEmulator({
    host: "127.0.0.1",
    ...ports,
    httpPort: 0,
    tls: { chain: pki.server.chain, key: pki.server.key, caPath: pki.ca.certPath },
    devices: [{ product: PRODUCT, device: DEVICE, key: KEY }],
    log: (line) => lines.push(line),
    uplinkIntervalMs: 40, // the platform's 1 message/s, shortened on both sides for the test
  });
}

interface Run {
  onenet: OneNetClient;
  logs: string[];
  /** Every CONNECT the device wrote into TLS, with the device's clock when it went. */
  connects: Array<{ conn: number; packet: ConnectPacket; at: number }>;
  /** Report id -> every PUBLISH of it (link connection, payload). */
  sent: Map<string, Array<{ conn: number; payload: string }>>;
  /** Per proxy connection, the first bytes the device sent and everything it sent. */
  upstream: Map<number, Buffer[]>;
  setClock(ms: number): void;
}

function device(proxy: FaultProxy, options: { keepalive?: number; connectTimeout?: number } = {}): Run {
  let clock = EPOCH;
  const run: Run = { onenet: undefined as unknown as OneNetClient, logs: [], connects: [], sent: new Map(), upstream: new Map(), setClock: (ms) => (clock = ms) };
  proxy.onData = (direction, conn, bytes) => {
    if (direction === "up") run.upstream.set(conn, [...(run.upstream.get(conn) ?? []), Buffer.from(bytes)]);
  };
  tapOutgoing((conn, p) => {
    if (p.cmd === "connect") run.connects.push({ conn, packet: p, at: clock });
    if (p.cmd !== "publish" || p.topic !== POST_TOPIC) return;
    const payload = Buffer.from(p.payload).toString("utf8");
    const id = (JSON.parse(payload) as { id: string }).id;
    run.sent.set(id, [...(run.sent.get(id) ?? []), { conn, payload }]);
  });
  const config = parseConfig({
    product: PRODUCT,
    device: DEVICE,
    key: KEY,
    host: "127.0.0.1",
    port: String(proxy.port),
    tokenTtl: String(TOKEN_TTL),
    keepalive: String(options.keepalive ?? 60),
  });
  run.onenet = new OneNetClient({
    config,
    epochMs: () => clock,
    pacingMs: 40,
    log: logTo((level, area, message, fields) => run.logs.push(`${level} ${area}: ${message}${fields ? " " + JSON.stringify(fields) : ""}`)),
    mqtt: {
      secure: { protocolVersion: TLS_1_2, certificate: new Uint8Array(new X509Certificate(pki.ca.cert).raw).slice().buffer },
      reconnectMin: 50,
      reconnectMax: 400,
      connectTimeout: options.connectTimeout ?? 5000,
    },
  });
  return run;
}

/** A TLS ClientHello record: handshake (22), TLS 1.x record version, handshake type client_hello (1). */
const isClientHello = (b: Buffer): boolean => b.length >= 6 && b[0] === 22 && b[1] === 3 && b[5] === 1;

/** The TLS checks common to every run: what the proxy carried was TLS, one fresh handshake and token per connection. */
function checkTls(run: Run): void {
  const streams = [...run.upstream.values()].map((chunks) => Buffer.concat(chunks));
  for (const s of streams) {
    assert.ok(isClientHello(s), `each connection opens with a ClientHello: ${s.subarray(0, 8).toString("hex")}`);
    for (const clear of [PRODUCT, DEVICE, "$sys/", "thing/property"]) assert.equal(s.indexOf(clear), -1, `no ${clear} in clear on the wire`);
  }
  // Each login on its own connection, each connection its own handshake (the SDK resumes no session).
  const conns = run.connects.map((c) => c.conn);
  assert.equal(new Set(conns).size, conns.length, `one CONNECT per connection: ${conns.join(",")}`);
  assert.ok(streams.length >= run.connects.length, `a handshake for each login (${streams.length} ClientHellos, ${run.connects.length} CONNECTs)`);
  // A token made for each login, at the device's clock then: et = now + tokenTtl, valid at the platform.
  for (const c of run.connects) {
    const token = Buffer.from(c.packet.password ?? new Uint8Array()).toString("utf8");
    const et = Number(new URLSearchParams(token).get("et"));
    assert.equal(et, Math.floor(c.at / 1000) + TOKEN_TTL, "the token was made at this login");
    assert.equal(verifyToken({ token, product: PRODUCT, device: DEVICE, keyFor: () => KEY, nowSeconds: Math.floor(c.at / 1000) }).ok, true, "the platform takes the token");
  }
  const ets = run.connects.map((c) => new URLSearchParams(Buffer.from(c.packet.password ?? new Uint8Array()).toString("utf8")).get("et"));
  assert.equal(new Set(ets).size, ets.length, `a new token at each reconnect: ${ets.join(",")}`);
  // Secrets stay out of the device's log.
  const text = run.logs.join("\n");
  assert.ok(!text.includes(KEY) && !text.includes("version=2018-10-31"), "no key or token in the log");
}

test("reports over TLS through a cut, a silent blackhole, lost acks, a reset, refused reconnects and an emulator restart: each fault one log line, a backoff, a new handshake and token; every report arrives, resends byte-identical", { timeout: 120_000 }, async () => {
  const emuLog: string[] = [];
  let emu = await emulator({ port: 0, tlsPort: 0 }, emuLog);
  const ports = { port: emu.port, tlsPort: emu.tlsPort! };
  const proxy = new FaultProxy(ports.tlsPort);
  await proxy.listen();
  const accepted = new Map<string, number[]>(); // report id -> post time, once per acceptance
  const watch = (e: Emulator): void => {
    e.events.on("event", (ev: EmulatorEvent) => {
      if (ev.device === DEVICE && ev.type === "post") accepted.set(ev.id, [...(accepted.get(ev.id) ?? []), ev.time]);
    });
  };
  watch(emu);
  const REPORTS = 48;
  // keepalive 10 s (OneNET's least): the silent blackhole is noticed after 1.5 x keepalive.
  const run = device(proxy, { keepalive: 10 });
  const { onenet, logs } = run;
  const at = (id: number): Promise<void> => until(() => accepted.has(String(id)), `report ${id} at the platform`);
  const faults: Array<{ name: string; mark: number; line: RegExp }> = [];
  let blackholed = 0;
  const fault = (name: string, line: RegExp): void => void faults.push({ name, mark: logs.length, line });
  try {
    onenet.connect();
    await until(() => onenet.online, "login over TLS through the proxy");
    for (let n = 1; n <= REPORTS; n++) {
      run.setClock(EPOCH + n * 1000);
      assert.equal(onenet.report({ temp: 20 + n / 10, uptime: n }), String(n));
      if (n === 6) {
        await at(5);
        fault("cut", /^WARN mqtt: broker closed the connection$/);
        proxy.cut();
      }
      if (n === 12) {
        await at(11);
        // Silent: nothing closes; reports 12 to 16 go into the void until the keepalive gives up.
        blackholed = proxy.dropped.up;
        fault("silent blackhole", /^WARN mqtt: connection closed \{"reason":"keepalive timeout, nothing received for \d+ ms"\}$/);
        proxy.blackhole(true);
      }
      if (n === 16) {
        await until(() => logs.slice(faults.at(-1)!.mark).some((l) => l.includes("keepalive timeout")), "the keepalive to notice the blackhole", 30_000);
        assert.ok(proxy.dropped.up > blackholed, "the device's TLS records went into the blackhole");
        proxy.reset(); // the held connection dies with the link
        proxy.blackhole(false);
      }
      if (n === 20) {
        await at(19);
        proxy.dropDownstream(true); // the platform takes reports whose PUBACKs never arrive
      }
      if (n === 22) {
        await at(22);
        assert.ok(proxy.dropped.down > 0, "acknowledgements were dropped");
        fault("cut after lost acks", /^WARN mqtt: broker closed the connection$/);
        proxy.cut();
        proxy.dropDownstream(false);
      }
      if (n === 28) {
        await at(27);
        // Node's TLS stream sometimes ends (-1) rather than fails (-2) on the peer's RST; either is the one line.
        fault("reset", /^WARN mqtt: (socket error \{"cause":"connection reset or dropped"\}|broker closed the connection)$/);
        proxy.reset();
      }
      if (n === 34) {
        await at(33);
        fault("refused reconnects", /^ERROR mqtt: TLS handshake failed, no CONNECT sent .*"cause":"no connection \(refused or reset\)/);
        proxy.refuse(true);
        proxy.reset();
        await until(() => proxy.refused >= 2, "reconnects refused");
        proxy.refuse(false);
      }
      if (n === 40) {
        await at(39);
        // The emulator stops (its connections close) and starts again on the same ports; meanwhile
        // the proxy's upstream is refused and the device's handshakes are cut.
        fault("emulator restart", /^WARN mqtt: broker closed the connection$/);
        await emu.close();
        const during = proxy.connections;
        await until(() => proxy.connections >= during + 2, "reconnects while the emulator is down");
        emu = await emulator(ports, emuLog);
        watch(emu);
      }
    }
    const missing = (): string[] => Array.from({ length: REPORTS }, (_, i) => String(i + 1)).filter((id) => !accepted.has(id));
    await until(() => missing().length === 0, "every report at the emulator", 60_000).catch((e: Error) => {
      throw new Error(`${e.message}: missing ${missing().join(",")}\n${logs.slice(-30).join("\n")}`);
    });

    // Each fault: its line, then "connection lost" with a backoff delay, then a new login.
    for (let i = 0; i < faults.length; i++) {
      const f = faults[i]!;
      const lines = logs.slice(f.mark, faults[i + 1]?.mark ?? logs.length);
      assert.ok(lines.some((l) => f.line.test(l)), `${f.name}: ${f.line}\n${lines.join("\n")}`);
      assert.ok(lines.some((l) => /^INFO mqtt: connection lost, reconnect scheduled .*"delay":\d+/.test(l)), `${f.name}: the backoff\n${lines.join("\n")}`);
      assert.ok(lines.some((l) => /^INFO mqtt: connected /.test(l)), `${f.name}: logged in again\n${lines.join("\n")}`);
    }

    for (let n = 1; n <= REPORTS; n++) {
      const id = String(n);
      const sends = run.sent.get(id) ?? [];
      const times = accepted.get(id) ?? [];
      assert.ok(sends.length >= 1 && times.length >= 1, `report ${n} sent and accepted`);
      for (const s of sends) assert.equal(s.payload, sends[0]!.payload, `report ${n} resent byte for byte (same id, same time)`);
      const conns = sends.map((s) => s.conn);
      assert.equal(new Set(conns).size, conns.length, `report ${n} at most once per connection: ${conns.join(",")}`);
      for (const t of times) assert.equal(t, EPOCH + n * 1000, `report ${n} kept its original time`);
      assert.ok(times.length <= sends.length, `report ${n}: taken ${times.length}x, sent ${sends.length}x`);
    }
    // Those taken without an acknowledgement, and those sent into the blackhole, were sent again.
    for (const n of [13, 14, 15, 21, 22]) assert.ok((run.sent.get(String(n)) ?? []).length >= 2, `report ${n} resent on a later connection`);
    checkTls(run);
    assert.ok(run.connects.length >= faults.length + 1, `a login after each fault (${run.connects.length})`);
    assert.equal(onenet.device.stats.refusedByPlatform, 0, logs.join("\n"));
  } finally {
    nodeLane.link.onTraffic = undefined;
    onenet.end();
    await proxy.close();
    await emu.close();
  }
});

for (const mode of ["blackhole", "cut"] as const) {
  test(`a ${mode} in the middle of the TLS handshake: ${mode === "blackhole" ? "the client times the handshake out (no hang), backs off" : "one ERROR line, the backoff"} and retries; a later handshake logs in with a fresh token`, { timeout: 60_000 }, async () => {
    const emu = await emulator({ port: 0, tlsPort: 0 }, []);
    const proxy = new FaultProxy(emu.tlsPort!);
    await proxy.listen();
    const run = device(proxy, { connectTimeout: 1500 });
    const { onenet, logs } = run;
    try {
      proxy.afterFirstReply(mode);
      onenet.connect();
      const expected = mode === "blackhole" ? /^INFO mqtt: connection lost, reconnect scheduled \{"reason":"connect timeout \(transport\)","delay":\d+\}$/ : /^ERROR mqtt: TLS handshake failed, no CONNECT sent .*"cause":"the server closed the connection/;
      await until(() => logs.filter((l) => expected.test(l)).length >= 2, `two handshakes ended by the ${mode}`).catch((e: Error) => {
        throw new Error(`${e.message}\n${logs.join("\n")}\n${nodeLane.log.lines.slice(-10).join("\n")}`);
      });
      assert.equal(run.connects.length, 0, "no CONNECT left the device: the handshake never finished");
      assert.ok(!onenet.online);
      // The server's first flight did reach the client: the fault hit mid-handshake, not at TCP connect.
      assert.ok([...run.upstream.values()].every((chunks) => isClientHello(Buffer.concat(chunks))));
      if (mode === "blackhole") assert.ok(proxy.dropped.up > 0, "the client's next handshake flight was held");
      proxy.afterFirstReply(undefined);
      run.setClock(EPOCH + 5000);
      await until(() => onenet.online, "a later handshake and login");
      const lost = logs.filter((l) => l.startsWith("INFO mqtt: connection lost, reconnect scheduled")).length;
      assert.ok(lost >= 2, logs.join("\n"));
      assert.equal(run.connects.length, 1);
      checkTls(run);
    } finally {
      nodeLane.link.onTraffic = undefined;
      onenet.end();
      await proxy.close();
      await emu.close();
    }
  });
}

// More of the platform's rules (docs/onenet.md), with a raw TCP socket where MQTT.js would not
// misbehave enough: first packet not CONNECT, malformed bytes, a packet announcing more than could be
// legal (refused at its fixed header), topic depth, payload size, subscription count, and the
// keepalive deadline (1.5 x keepalive with no uplink; docs/onenet.md: CONNECT).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect as tcpConnect, type Socket } from "node:net";
import mqttPacket, { type Packet } from "mqtt-packet";
import { startEmulator, VirtualClock, type Emulator } from "../tools/emulator/index.ts";
import { MAX_CONNECT_BYTES } from "../tools/emulator/gate.ts";
import { makeToken } from "../tools/emulator/token.ts";
import { connectOk, FAR_ET, until, type TestDevice } from "../tools/emulator/testing.ts";

const PID = "LimPid0001";
const DEV = { product: PID, device: "lim-1", key: Buffer.from("limits-test-key-0123456789abcdef").toString("base64") };
let emu: Emulator;
const clock = new VirtualClock(Date.UTC(2026, 0, 1));
const logLines: string[] = [];

before(async () => {
  emu = await startEmulator({ devices: [DEV], clock, log: (line) => logLines.push(line) });
});
after(async () => {
  await emu.close();
});

interface Raw {
  socket: Socket;
  packets: Packet[];
  closed: Promise<void>;
}

function raw(): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(emu.port, "127.0.0.1");
    const packets: Packet[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", (p) => packets.push(p));
    socket.on("data", (chunk: Buffer) => parser.parse(chunk));
    socket.on("error", () => {});
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.once("connect", () => resolve({ socket, packets, closed }));
    socket.once("error", reject);
  });
}

function connectPacket(keepalive = 60, password = Buffer.from(makeToken({ key: DEV.key, res: `products/${PID}/devices/${DEV.device}`, et: FAR_ET }))): Buffer {
  return mqttPacket.generate({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 4,
    clean: true,
    keepalive,
    clientId: DEV.device,
    username: PID,
    password,
  });
}

/** A CONNECT whose remaining length is exactly `length`: a long, wrong password fills it. The
 * variable header is 10 bytes; clientId, username and password each take 2 length bytes. */
function connectOfLength(length: number): Buffer {
  const packet = connectPacket(60, Buffer.alloc(length - 10 - (2 + DEV.device.length) - (2 + PID.length) - 2, 0x41));
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let parsed: Packet | undefined;
  parser.on("packet", (p) => (parsed = p));
  parser.parse(packet);
  assert.equal(parsed?.length, length, "the CONNECT built has the length asked for");
  return packet;
}

describe("connection rules", () => {
  it("closes a connection whose first packet is not CONNECT", async () => {
    const r = await raw();
    r.socket.write(mqttPacket.generate({ cmd: "pingreq" }));
    await r.closed;
    assert.deepEqual(r.packets, []);
  });

  it("closes a connection that sends malformed bytes (reserved packet type 0)", async () => {
    const r = await raw();
    r.socket.write(connectPacket());
    await until(() => r.packets.some((p) => p.cmd === "connack"), "CONNACK");
    r.socket.write(Buffer.from([0x00, 0x00]));
    await r.closed;
  });

  // MQTT 3.1.1 lets a remaining length announce up to 256 MB; the platform's packets are far smaller,
  // so an announcement beyond what could be legal is refused at the fixed header instead of being
  // buffered until the data (or aedes' 30 s connect timeout) arrives.
  const ANNOUNCE_200_MB = [0x80, 0x80, 0x80, 0x64]; // 209715200 as a variable byte integer
  const announced = (what: string) => logLines.filter((l) => l.includes(`disconnect: packet of ${what}`));

  it("closes at the fixed header a CONNECT that announces 200 MB (no CONNACK, nothing buffered)", async () => {
    const r = await raw();
    r.socket.write(Buffer.from([0x10, ...ANNOUNCE_200_MB]));
    await r.closed;
    assert.deepEqual(r.packets, []);
    assert.equal(announced("209715200 bytes announced before login").length, 1, logLines.join("\n"));
  });

  it(`parses a CONNECT of ${MAX_CONNECT_BYTES} bytes; one byte more is refused at its header`, async () => {
    const ok = await raw();
    ok.socket.write(connectOfLength(MAX_CONNECT_BYTES)); // its password is no token: CONNACK 4
    await ok.closed;
    assert.deepEqual(ok.packets.map((p) => [p.cmd, (p as { returnCode?: number }).returnCode]), [["connack", 4]]);
    const big = await raw();
    big.socket.write(connectOfLength(MAX_CONNECT_BYTES + 1).subarray(0, 3)); // the fixed header alone
    await big.closed;
    assert.deepEqual(big.packets, []);
    assert.equal(announced(`${MAX_CONNECT_BYTES + 1} bytes announced before login`).length, 1);
  });

  it("disconnects a logged-in device at the header of a PUBLISH announcing 200 MB", async () => {
    const r = await raw();
    r.socket.write(connectPacket());
    await until(() => r.packets.some((p) => p.cmd === "connack"), "CONNACK");
    r.socket.write(Buffer.from([0x30, ...ANNOUNCE_200_MB]));
    await r.closed;
    assert.equal(announced("209715200 bytes announced (limit").length, 1, logLines.join("\n"));
  });

  it("disconnects after 1.5 x keepalive without uplink (keepalive 10 s: about 15 s)", { timeout: 45000 }, async () => {
    const r = await raw();
    r.socket.write(connectPacket(10));
    await until(() => r.packets.some((p) => p.cmd === "connack"), "CONNACK");
    assert.equal((r.packets[0] as { returnCode?: number }).returnCode, 0);
    await r.closed; // nothing sent after CONNACK: the broker must hang up (bounded by the test timeout)
    const log = emu.devices()[0]!.log.map((l) => l.text);
    assert.ok(log.some((t) => t.startsWith("keepalive timeout")), log.join("\n"));
  });
});

describe("publish and subscribe limits (docs/onenet.md: QoS, retain, limits)", () => {
  let d: TestDevice;
  const open: TestDevice[] = [];
  after(async () => {
    for (const x of open) await x.end();
  });
  async function dev(): Promise<TestDevice> {
    const x = await connectOk(emu.brokerUrl, DEV);
    open.push(x);
    return x;
  }

  it("disconnects a PUBLISH topic deeper than 8 levels", async () => {
    d = await dev();
    d.client.publish(d.prefix + "thing/property/post/a/b/c", "{}", { qos: 0 });
    await d.closed;
  });

  it("disconnects a PUBLISH payload over 256 KB, accepts exactly 256 KB", async () => {
    d = await dev();
    clock.advance(1000);
    await new Promise<void>((resolve, reject) =>
      d.client.publish(d.prefix + "thing/custom", Buffer.alloc(256 * 1024, 0x20), { qos: 1 }, (e) => (e ? reject(e) : resolve())),
    );
    assert.equal(d.isClosed(), false);
    d.client.publish(d.prefix + "thing/custom", Buffer.alloc(256 * 1024 + 1, 0x20), { qos: 0 });
    await d.closed;
  });

  it("grants at most 10 subscribed topics per session (the 11th gets 0x80)", async () => {
    d = await dev();
    const granted: number[] = [];
    for (let i = 0; i < 11; i++) {
      granted.push(
        await new Promise<number>((resolve) =>
          d.client.subscribe(d.prefix + `thing/t${i}`, { qos: 0 }, (e, g) =>
            resolve(e ? ((e as Error & { packet?: { granted?: number[] } }).packet?.granted?.[0] ?? -1) : (g?.[0]?.qos ?? -1)),
          ),
        ),
      );
    }
    assert.deepEqual(granted, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 128]);
    assert.equal(d.isClosed(), false);
  });
});

// More of the platform's rules (../shared/facts/onenet.md), with a raw TCP socket where MQTT.js would
// not misbehave enough: first packet not CONNECT, malformed bytes, topic depth, payload size,
// subscription count, and the keepalive deadline (1.5 x keepalive with no uplink; facts: CONNECT).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect as tcpConnect, type Socket } from "node:net";
import mqttPacket, { type Packet } from "mqtt-packet";
import { startEmulator, VirtualClock, type Emulator } from "../tools/emulator/index.ts";
import { makeToken } from "../tools/emulator/token.ts";
import { connectOk, FAR_ET, until, type TestDevice } from "../tools/emulator/testing.ts";

const PID = "LimPid0001";
const DEV = { product: PID, device: "lim-1", key: Buffer.from("limits-test-key-0123456789abcdef").toString("base64") };
let emu: Emulator;
const clock = new VirtualClock(Date.UTC(2026, 0, 1));

before(async () => {
  emu = await startEmulator({ devices: [DEV], clock, log: () => {} });
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

function connectPacket(keepalive = 60): Buffer {
  return mqttPacket.generate({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 4,
    clean: true,
    keepalive,
    clientId: DEV.device,
    username: PID,
    password: Buffer.from(makeToken({ key: DEV.key, res: `products/${PID}/devices/${DEV.device}`, et: FAR_ET })),
  });
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

describe("publish and subscribe limits (facts: QoS, retain, limits)", () => {
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

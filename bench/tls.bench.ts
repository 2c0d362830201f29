// TLS cost, Node lane, against the local OneNET emulator: bytes on the wire per report (a property post
// and its reply, both directions, TCP payload: TLS records and all) over TLS against plain TCP, the
// same for the login (handshake + CONNECT/CONNACK + SUBSCRIBE/SUBACK), and the handshake time in the
// simulator (SecureSocket made -> callback(1)) against a plain TCP connect. The handshake here is Node's
// OpenSSL on the host: it says what the protocol costs in round trips, not what the ESP32's JS TLS costs
// in CPU (seconds on the board: docs/moddable.md "TLS").
import { createServer, connect as tcpConnect, type Server, type Socket as NetSocket } from "node:net";
import { X509Certificate } from "node:crypto";
import type { Report } from "./run.ts";

/** A TCP proxy that counts the bytes crossing it each way. */
class Counter {
  up = 0;
  down = 0;
  port = 0;
  readonly #server: Server;
  readonly #sockets = new Set<NetSocket>();
  constructor(target: number) {
    this.#server = createServer((client) => {
      const upstream = tcpConnect(target, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => {
          this.#sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.on("data", (b: Buffer) => {
        this.up += b.length;
        upstream.write(b);
      });
      upstream.on("data", (b: Buffer) => {
        this.down += b.length;
        client.write(b);
      });
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", () => r()));
    this.port = (this.#server.address() as { port: number }).port;
    return this.port;
  }
  reset(): void {
    this.up = 0;
    this.down = 0;
  }
  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((r) => this.#server.close(() => r()));
  }
}

const REPORTS = 30;
const HANDSHAKES = 15;

export default async function bench(report: Report): Promise<void> {
  await import("../tools/sim/register.ts");
  const { nodeLane } = await import("../tools/sim/node-lane.ts");
  const { OneNetClient } = await import("../onenet/client.ts");
  const { parseConfig } = await import("../onenet/config.ts");
  const { TLS_1_2 } = await import("../onenet/tls.ts");
  const { default: SecureSocket } = await import("securesocket");
  const { Socket } = await import("socket");
  const { startEmulator } = await import("../tools/emulator/index.ts");
  const { DEMO } = await import("../tools/sim/start.ts");
  nodeLane.useRealClock();
  const device = { product: DEMO.product, device: DEMO.device, key: DEMO.key };
  const emulator = await startEmulator({ host: "127.0.0.1", port: 0, tlsPort: 0, httpPort: 0, devices: [device], uplinkIntervalMs: 1, log: () => {} });
  const certificate = new Uint8Array(new X509Certificate(emulator.tlsCa!).raw).slice().buffer;
  const secure = { protocolVersion: TLS_1_2, certificate };
  const wait = async (cond: () => boolean): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error("tls bench: timed out");
      await new Promise((r) => setTimeout(r, 2));
    }
  };

  /** Until no byte has crossed for a few turns. */
  const quiet = async (counter: Counter): Promise<void> => {
    let last = -1;
    for (let stable = 0; stable < 5; ) {
      await new Promise((r) => setTimeout(r, 5));
      const now = counter.up + counter.down;
      stable = now === last ? stable + 1 : 0;
      last = now;
    }
  };

  /** Wire bytes of the login and per report (post + reply), through a counting proxy. */
  const wire = async (tls: boolean): Promise<{ login: number; perReport: number }> => {
    const counter = new Counter(tls ? emulator.tlsPort! : emulator.port);
    await counter.listen();
    const onenet = new OneNetClient({
      config: parseConfig({ ...device, host: "127.0.0.1", port: String(counter.port), tls: tls ? "1" : "0" }),
      epochMs: () => Date.now(),
      pacingMs: 1,
      mqtt: tls ? { secure } : {},
    });
    try {
      onenet.connect();
      await wait(() => onenet.online);
      await quiet(counter); // the SUBSCRIBE and its SUBACK
      const login = counter.up + counter.down;
      counter.reset();
      const replies = onenet.device.stats.replies;
      for (let i = 0; i < REPORTS; i++) onenet.report({ temp: 21.5, humi: 40.25, uptime: 1000 + i });
      await wait(() => onenet.device.stats.replies >= replies + REPORTS);
      await quiet(counter); // the last PUBACK
      return { login, perReport: (counter.up + counter.down) / REPORTS };
    } finally {
      onenet.end();
      await counter.close();
    }
  };

  /** Median ms from construction to callback(1). */
  const connectTime = async (tls: boolean): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < HANDSHAKES; i++) {
      const start = performance.now();
      let up = false;
      const s = tls
        ? new SecureSocket({ host: "127.0.0.1", port: emulator.tlsPort!, secure })
        : new Socket({ host: "127.0.0.1", port: emulator.port });
      s.callback = (message: number) => {
        if (message === 1) up = true;
      };
      await wait(() => up);
      times.push(performance.now() - start);
      s.close();
    }
    times.sort((a, b) => a - b);
    return Number(times[times.length >> 1].toFixed(2));
  };

  try {
    const plain = await wire(false);
    const tls = await wire(true);
    report({ name: "tls.wire.bytesPerReport", value: tls.perReport, unit: "bytes on the wire per report, post + reply, both ways (lower is better)", anchor: "plain.wire.bytesPerReport", anchorValue: plain.perReport });
    report({ name: "tls.wire.login", value: tls.login, unit: "bytes on the wire to log in and subscribe, both ways (lower is better)", anchor: "plain.wire.login", anchorValue: plain.login });
    const plainMs = await connectTime(false);
    const tlsMs = await connectTime(true);
    report({ name: "tls.sim.handshakeMs", value: tlsMs, unit: "ms to callback(1) in the simulator, median (host OpenSSL, not the board's CPU)", anchor: "plain.sim.connectMs", anchorValue: plainMs });
  } finally {
    await emulator.close();
  }
}

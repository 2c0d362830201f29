// What stands between the device and the OneNET emulator during the soak: a node:net proxy that
// forwards whole MQTT packets (frames.ts) both ways, and can instead play a broker that misbehaves:
//   "pass"           forward to the emulator (the default);
//   "down"           the broker host is down: each connection is reset at once;
//   "refuse-login"   answer CONNECT with a refusing CONNACK (`refuseCode`) and close, as the platform
//                    does for a disabled device;
//   "connack-twice"  answer CONNECT with two CONNACK 0 and nothing else [MQTT-3.2.0-1 says one];
// plus `refuseSubscriptions` (every SUBACK from the emulator rewritten to 0x80) and inject(), which
// writes raw bytes to the device between two whole packets, as if the platform had sent them.
import { createServer, connect, type Server, type Socket } from "node:net";
import { CONNECT, SUBACK } from "../../mqtt/packets.ts";
import { Framer, connack, rewriteSuback } from "./frames.ts";

export type FrontMode = "pass" | "down" | "refuse-login" | "connack-twice";

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
}

export class BrokerFront {
  mode: FrontMode = "pass";
  /** CONNACK return code in "refuse-login" mode (5: not authorized). */
  refuseCode = 5;
  /** When true, every SUBACK from the emulator reaches the device as 0x80 (subscription refused). */
  refuseSubscriptions = false;
  targetPort: number;
  port = 0;
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();

  constructor(targetPort: number) {
    this.targetPort = targetPort;
    this.#server = createServer((client) => this.#accept(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", () => resolve()));
    const address = this.#server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    return this.port;
  }

  /** Connections open now. */
  get open(): number {
    return this.#pairs.size;
  }

  /** Writes `bytes` to every open device connection, as the broker would. */
  inject(bytes: Uint8Array): number {
    let n = 0;
    for (const pair of this.#pairs) {
      if (pair.client.destroyed) continue;
      pair.client.write(bytes);
      n++;
    }
    return n;
  }

  /** Closes every connection in order (FIN), as a broker that restarts does. */
  closeAll(): void {
    for (const pair of [...this.#pairs]) this.#drop(pair, false);
  }

  async close(): Promise<void> {
    for (const pair of [...this.#pairs]) this.#drop(pair, true);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #drop(pair: Pair, hard: boolean): void {
    if (!this.#pairs.delete(pair)) return;
    if (hard) {
      pair.client.destroy();
      pair.upstream?.destroy();
    } else {
      pair.client.end();
      pair.upstream?.end();
    }
  }

  #accept(client: Socket): void {
    client.setNoDelay(true);
    if (this.mode === "down") {
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined };
    this.#pairs.add(pair);
    client.on("error", () => this.#drop(pair, true));
    client.on("close", () => this.#drop(pair, true));
    const fromDevice = new Framer();
    const mode = this.mode;
    if (mode !== "pass") {
      client.on("data", (chunk: Buffer) => {
        for (const frame of fromDevice.push(chunk)) {
          if (frame.type !== CONNECT) continue;
          if (mode === "refuse-login") {
            client.end(connack(this.refuseCode));
            this.#pairs.delete(pair);
          } else client.write(Buffer.concat([connack(0), connack(0)]));
        }
      });
      return;
    }
    const upstream = connect(this.targetPort, "127.0.0.1");
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on("error", () => this.#drop(pair, true));
    upstream.on("end", () => this.#drop(pair, false));
    upstream.on("close", () => this.#drop(pair, true));
    const fromBroker = new Framer();
    client.on("data", (chunk: Buffer) => {
      if (!upstream.destroyed) upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      // Whole packets only, so inject() never lands inside one.
      for (const frame of fromBroker.push(chunk)) {
        if (client.destroyed) return;
        if (frame.type === SUBACK && this.refuseSubscriptions) client.write(rewriteSuback(frame, 0x80));
        else client.write(frame.bytes);
      }
    });
  }
}

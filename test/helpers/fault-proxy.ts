// A TCP proxy for fault injection between a client and a broker on 127.0.0.1:
//   cut()              both sides closed in order (FIN): the client sees the peer close;
//   reset()            both sides reset (RST);
//   blackhole(true)    bytes stop flowing both ways (held connections stay open, nothing arrives);
//                      blackhole(false) lets traffic flow again (bytes dropped meanwhile stay lost);
//   dropDownstream(true) broker-to-client bytes are dropped, client-to-broker still flows: the broker
//                      takes messages whose acknowledgements never arrive;
//   refuse(true)       new connections are accepted and destroyed at once (connection refused-like);
//   silent(true)       new connections are accepted but never forwarded (a broker that never answers);
//   afterFirstReply(m) on new connections, once the broker's first bytes reached the client: "blackhole"
//                      drops everything after them both ways, "cut" closes the connection (FIN). Over
//                      TLS that is mid-handshake: the client has the ServerHello, the broker never
//                      gets (or answers) the rest.
// The proxy never looks into or changes what it forwards (TLS records pass through untouched);
// `onData` sees each forwarded chunk, per connection, as it went.
// Every connection is counted; `connections` tells how many the client made, `refused` how many of
// them refuse() turned away, and `dropped` how many bytes each direction lost to blackhole() or
// dropDownstream(): tests wait on these to know that a fault actually hit traffic.
import { createServer, connect, type Server, type Socket } from "node:net";

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** Set by afterFirstReply("blackhole"): this connection forwards nothing any more. */
  held: boolean;
}

export type HandshakeFault = "blackhole" | "cut";

export class FaultProxy {
  readonly targetPort: number;
  readonly targetHost: string;
  port = 0;
  connections = 0;
  refused = 0;
  readonly dropped = { up: 0, down: 0 };
  #server: Server;
  #pairs = new Set<Pair>();
  #blackhole = false;
  #dropDownstream = false;
  #refuse = false;
  #silent = false;
  #afterFirstReply: HandshakeFault | undefined;
  /** Each chunk forwarded, with the proxy's connection number (1, 2, ...). */
  onData: ((direction: "up" | "down", connection: number, bytes: Buffer) => void) | undefined;

  constructor(targetPort: number, targetHost = "127.0.0.1") {
    this.targetPort = targetPort;
    this.targetHost = targetHost;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Listens on 127.0.0.1:`port` (0: any free port); resolves to the port. */
  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(port, "127.0.0.1", () => resolve()));
    const address = this.#server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    return this.port;
  }

  #accept(client: Socket): void {
    const number = ++this.connections;
    client.setNoDelay(true);
    if (this.#refuse) {
      this.refused++;
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined, held: false };
    const fault = this.#afterFirstReply;
    let replied = false;
    this.#pairs.add(pair);
    const drop = (): void => {
      if (!this.#pairs.delete(pair)) return;
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on("error", drop);
    client.on("close", drop);
    if (this.#silent) return;
    const upstream = connect(this.targetPort, this.targetHost);
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on("error", drop);
    upstream.on("close", drop);
    client.on("data", (d: Buffer) => {
      if (!this.#blackhole && !pair.held) {
        upstream.write(d);
        this.onData?.("up", number, d);
      } else this.dropped.up += d.length;
    });
    upstream.on("data", (d: Buffer) => {
      if (!this.#blackhole && !this.#dropDownstream && !pair.held) {
        client.write(d);
        this.onData?.("down", number, d);
        if (fault !== undefined && !replied) {
          replied = true;
          if (fault === "blackhole") pair.held = true;
          else this.#end(pair);
        }
      } else this.dropped.down += d.length;
    });
  }

  /** Closes every connection from the proxy in order (FIN both ways). */
  cut(): void {
    for (const pair of [...this.#pairs]) this.#end(pair);
  }

  #end(pair: Pair): void {
    this.#pairs.delete(pair);
    pair.client.end();
    pair.client.destroySoon();
    pair.upstream?.end();
    pair.upstream?.destroySoon();
  }

  /** Resets every connection (RST both ways). */
  reset(): void {
    for (const pair of [...this.#pairs]) {
      this.#pairs.delete(pair);
      pair.client.resetAndDestroy();
      pair.upstream?.resetAndDestroy();
    }
  }

  blackhole(on: boolean): void {
    this.#blackhole = on;
  }

  dropDownstream(on: boolean): void {
    this.#dropDownstream = on;
  }

  refuse(on: boolean): void {
    this.#refuse = on;
  }

  silent(on: boolean): void {
    this.#silent = on;
  }

  /** From now on, new connections blackhole or are cut once the broker's first bytes went through; undefined: off. */
  afterFirstReply(fault: HandshakeFault | undefined): void {
    this.#afterFirstReply = fault;
  }

  get open(): number {
    return this.#pairs.size;
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

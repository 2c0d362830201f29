// Host side of the simulated device's TCP: real node:net connections, plus the controls tests use to
// misbehave the link. Shared by both lanes; the lane forwards events into the device. A connection
// opened with TLS options (the securesocket shim) does its handshake here (./tls.ts) and carries the
// decrypted stream.
import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { TcpEvents, TlsOptions } from "./host.ts";
import { startTls, trustedCa } from "./tls.ts";

export interface LinkStats {
  connects: number;
  bytesOut: number;
  bytesIn: number;
}

interface Conn {
  readonly id: number;
  readonly socket: Socket;
  readonly events: TcpEvents;
  open: boolean;
  /** What the device's bytes go through: the socket, or the TLS stream over it. */
  stream: Duplex;
}

export class TcpLink {
  #nextId = 1;
  readonly #conns = new Map<number, Conn>();
  #blackholed = false;
  #refusing = false;
  readonly stats: LinkStats = { connects: 0, bytesOut: 0, bytesIn: 0 };
  /** Optional tap on what crossed the wire (after the link controls). */
  onTraffic: ((direction: "out" | "in", id: number, bytes: Uint8Array) => void) | undefined;

  /**
   * Rewrites where a device connection goes (e.g. npm start points "mqtts.heclouds.com" at the local
   * emulator). Default: unchanged.
   */
  route: (host: string, port: number) => { host: string; port: number } = (host, port) => ({ host, port });

  connect(host: string, port: number, events: TcpEvents, tls?: TlsOptions): number {
    const ca = tls === undefined ? undefined : trustedCa(tls); // throws as the SDK's constructor does
    const id = this.#nextId++;
    const socket = new Socket();
    const conn: Conn = { id, socket, events, open: true, stream: socket };
    this.#conns.set(id, conn);
    this.stats.connects++;
    if (this.#refusing) {
      queueMicrotask(() => this.#fail(conn, "link refused (simulated)"));
      return id;
    }
    if (this.#blackholed) {
      // A dead link: the SYN goes nowhere; no answer ever comes.
      return id;
    }
    const target = this.route(host, port);
    socket.setNoDelay(true);
    const carry = (stream: Duplex): void => {
      stream.on("data", (chunk: Buffer) => {
        if (!conn.open || this.#blackholed) return;
        const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength).slice();
        this.stats.bytesIn += bytes.length;
        this.onTraffic?.("in", id, bytes);
        events.data(bytes);
      });
      stream.on("end", () => {
        if (!conn.open || this.#blackholed) return;
        conn.open = false;
        this.#conns.delete(id);
        stream.end();
        events.closed();
      });
    };
    socket.on("connect", () => {
      if (!conn.open || this.#blackholed) return;
      if (tls === undefined || ca === undefined) {
        events.connected();
        return;
      }
      conn.stream = startTls(socket, tls, ca, {
        secure: (stream) => {
          if (!conn.open || this.#blackholed) return;
          carry(stream);
          stream.on("error", (error: Error) => this.#fail(conn, error.message));
          events.connected();
        },
        failed: (reason) => this.#fail(conn, `TLS handshake failed: ${reason}`),
        closed: () => {
          if (!conn.open) return;
          conn.open = false;
          this.#conns.delete(id);
          conn.stream.destroy();
          socket.destroy();
          events.closed();
        },
      });
    });
    if (tls === undefined) carry(socket);
    socket.on("error", (error: Error) => this.#fail(conn, error.message));
    socket.on("close", () => {
      if (conn.open && !this.#blackholed) this.#fail(conn, "connection closed");
    });
    socket.connect(target.port, target.host);
    return id;
  }

  write(id: number, bytes: Uint8Array): void {
    const conn = this.#conns.get(id);
    if (conn === undefined || !conn.open) return;
    if (this.#blackholed) return; // never acknowledged: the device's send space stays used
    const copy = Buffer.from(bytes);
    this.stats.bytesOut += copy.length;
    this.onTraffic?.("out", id, bytes);
    conn.stream.write(copy, (error) => {
      if (!error && conn.open && !this.#blackholed) conn.events.sent(copy.length);
    });
  }

  close(id: number): void {
    const conn = this.#conns.get(id);
    if (conn === undefined) return;
    conn.open = false;
    this.#conns.delete(id);
    conn.stream.end();
    conn.socket.destroySoon();
  }

  /** Aborts every open connection: the peer sees a reset, the device an error (-2). */
  reset(): void {
    for (const conn of [...this.#conns.values()]) {
      conn.socket.resetAndDestroy();
      this.#fail(conn, "connection reset (simulated)");
    }
  }

  /**
   * Blackhole on: from now on nothing crosses in either direction and nothing is acknowledged; new
   * connections never complete. The device learns of it only through its own timeouts. Off: traffic
   * flows again on connections that still exist (what was dropped stays lost).
   */
  blackhole(on: boolean): void {
    this.#blackholed = on;
  }

  /** Refuse on: new connections fail at once with an error (no route / refused). */
  refuse(on: boolean): void {
    this.#refusing = on;
  }

  /** Closes every connection from the peer's side in order (FIN): the device sees -1. */
  hangup(): void {
    for (const conn of [...this.#conns.values()]) {
      conn.open = false;
      this.#conns.delete(conn.id);
      conn.socket.destroy();
      conn.events.closed();
    }
  }

  get openConnections(): number {
    return this.#conns.size;
  }

  /** Destroys every connection without telling the device (lane shutdown). */
  destroyAll(): void {
    for (const conn of this.#conns.values()) {
      conn.open = false;
      conn.socket.destroy();
    }
    this.#conns.clear();
  }

  #fail(conn: Conn, reason: string): void {
    if (!conn.open) return;
    conn.open = false;
    this.#conns.delete(conn.id);
    conn.stream.destroy();
    conn.socket.destroy();
    conn.events.error(reason);
  }
}

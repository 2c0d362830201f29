// Moddable "socket" (TCP) with the board's semantics (modules/network/socket/lwip/modSocket.c):
//  - callback(1) connected; callback(2, n) readable with n bytes of the current segment;
//    callback(3, free) writable, sent when everything written so far has been acknowledged;
//    callback(-1) peer closed (after unread data was read); callback(-2) error.
//  - read(...) only inside the readable callback (stricter than lwIP, which lets a stray read
//    through: here it throws so the bug shows in the simulator).
//  - write(a, b, ...) is all-or-nothing: it throws "can't write all data" when the bytes exceed the
//    free send space; write() returns the free space (lwIP TCP_SND_BUF on ESP32: 5744 bytes).
//  - Incoming data arrives in segments of at most one MSS (1436 bytes), one callback per segment.
// Lane-neutral: the bytes go through host().tcp*.
import { host, type TcpEvents, type TlsOptions } from "../host.ts";
import { utf8Bytes, utf8Text } from "../lib/utf8.ts";

/** ESP32 lwIP default send buffer (CONFIG_LWIP_TCP_SND_BUF_DEFAULT). */
export const SEND_BUFFER = 5744;
/** ESP32 lwIP default TCP MSS: the largest segment one readable callback delivers. */
export const SEGMENT = 1436;

type SocketCallback = (this: Socket, message: 1 | 2 | 3 | -1 | -2, value?: number) => void;
type WriteData = string | number | ArrayBuffer | ArrayBufferView;

interface TcpOptions {
  host?: string;
  address?: string;
  port: number;
  kind?: string;
  noDelay?: boolean;
  keepalive?: unknown;
  /** Sim only: the securesocket shim opens its connection through a Socket, as the SDK's SecureSocket does; the host does the handshake. */
  tls?: TlsOptions;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

let instances = 0;
/** Open sockets in this lane (for instrumentation "Network Sockets"). */
export function openSockets(): number {
  return instances;
}
let bytesRead = 0;
let bytesWritten = 0;
export function socketBytes(): { read: number; written: number } {
  return { read: bytesRead, written: bytesWritten };
}

export class Socket {
  callback: SocketCallback = () => {};
  #id = 0;
  #target = "";
  #state: "connecting" | "open" | "peerClosed" | "error" | "closed" = "connecting";
  readonly #segments: Uint8Array[] = [];
  #pos = 0;
  #inReadable = false;
  #delivering = false;
  #outstanding = 0;
  #disconnectPending = false;
  #secure = false;

  constructor(options: TcpOptions) {
    if (typeof options !== "object" || options === null) throw new Error("invalid dictionary");
    if (options.kind !== undefined && options.kind !== "TCP") {
      throw new Error(`socket: kind "${String(options.kind)}" not simulated (TCP only)`);
    }
    const port = Number(options.port);
    if (!(port > 0 && port < 65536)) throw new Error("socket: invalid port");
    let target: string;
    if (typeof options.host === "string") target = options.host;
    else if (typeof options.address === "string") {
      if (!IPV4.test(options.address)) throw new Error("invalid IP address");
      target = options.address;
    } else throw new Error("invalid dictionary");
    this.#target = target;
    const events: TcpEvents = {
      connected: () => this.#onConnected(),
      data: (bytes) => this.#onData(bytes),
      sent: (count) => this.#onSent(count),
      closed: () => this.#onClosed(),
      error: (reason) => this.#onError(reason),
    };
    this.#secure = options.tls !== undefined;
    this.#id = host().tcpConnect(target, port, events, options.tls);
    instances++;
  }

  read(): number;
  read(type: typeof ArrayBuffer, count?: number): ArrayBuffer;
  read(type: typeof String, limit?: number | string): string;
  read(type: typeof Number): number;
  read(type: null, count?: number): number;
  read(...args: unknown[]): number | string | ArrayBuffer {
    if (this.#state === "closed") throw new Error("read on closed socket");
    const segment = this.#segments[0];
    const available = segment === undefined ? 0 : segment.length - this.#pos;
    if (args.length === 0) return this.#inReadable ? available : 0;
    if (!this.#inReadable) throw new Error("socket: read outside the readable callback");
    if (segment === undefined || available === 0) throw new Error("nothing to read");
    const type = args[0];
    let count = available;
    const limit = args[1];
    if (typeof limit === "number") {
      if (limit < count) count = Math.max(0, Math.floor(limit));
    } else if (typeof limit === "string" && limit.length > 0) {
      const terminator = limit.charCodeAt(0) & 0xff;
      for (let i = this.#pos; i < segment.length; i++) {
        if (segment[i] === terminator) {
          count = i - this.#pos + 1;
          break;
        }
      }
    }
    const start = this.#pos;
    let result: number | string | ArrayBuffer;
    if (type === null) result = count;
    else if (type === String) result = utf8Text(segment, start, start + count);
    else if (type === Number) {
      result = segment[start];
      count = 1;
    } else if (type === ArrayBuffer) {
      result = segment.slice(start, start + count).buffer;
    } else throw new Error("unsupported output type");
    this.#pos += count;
    bytesRead += count;
    return result;
  }

  write(): number;
  write(...data: WriteData[]): void;
  write(...data: WriteData[]): number | void {
    // lwIP accepts writes while the connection is being set up (SYN_SENT) and sends them after.
    const writable = this.#state === "open" || this.#state === "connecting";
    if (data.length === 0) return writable ? SEND_BUFFER - this.#outstanding : 0;
    if (!writable) {
      if (this.#state === "closed") throw new Error("write on closed socket");
      host().log("write on closed socket");
      return;
    }
    const parts: Uint8Array[] = [];
    let needed = 0;
    for (const item of data) {
      let bytes: Uint8Array;
      if (typeof item === "string") bytes = utf8Bytes(item);
      else if (typeof item === "number") bytes = Uint8Array.of(item & 0xff);
      else if (item instanceof ArrayBuffer) bytes = new Uint8Array(item);
      else if (ArrayBuffer.isView(item)) bytes = new Uint8Array(item.buffer, item.byteOffset, item.byteLength);
      else throw new Error("unsupported type for write");
      parts.push(bytes);
      needed += bytes.length;
    }
    if (needed > SEND_BUFFER - this.#outstanding) throw new Error("can't write all data");
    let joined: Uint8Array;
    if (parts.length === 1) joined = parts[0].slice();
    else {
      joined = new Uint8Array(needed);
      let o = 0;
      for (const p of parts) {
        joined.set(p, o);
        o += p.length;
      }
    }
    this.#outstanding += needed;
    bytesWritten += needed;
    host().tcpWrite(this.#id, joined);
  }

  close(): void {
    if (this.#state === "closed") {
      host().log("close on closed socket");
      return;
    }
    const wasOpen = this.#state !== "error" && this.#state !== "peerClosed";
    this.#state = "closed";
    this.#segments.length = 0;
    instances--;
    if (wasOpen) host().tcpClose(this.#id);
  }

  /** "REMOTE_IP": the peer's address when the socket was opened by address (names are not resolved here). */
  get(name: string): string | undefined {
    return name === "REMOTE_IP" && IPV4.test(this.#target) ? this.#target : undefined;
  }

  #onConnected(): void {
    if (this.#state !== "connecting") return;
    this.#state = "open";
    this.callback(1);
  }

  #onData(bytes: Uint8Array): void {
    if (this.#state !== "open") return;
    for (let i = 0; i < bytes.length; i += SEGMENT) this.#segments.push(bytes.subarray(i, Math.min(bytes.length, i + SEGMENT)));
    this.#deliver();
  }

  #deliver(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      while (this.#state === "open" || this.#state === "peerClosed") {
        const segment = this.#segments[0];
        if (segment === undefined) break;
        const before = this.#pos;
        this.#inReadable = true;
        try {
          this.callback(2, segment.length - this.#pos);
        } finally {
          this.#inReadable = false;
        }
        if ((this.#state as string) === "closed") return;
        if (this.#pos >= segment.length) {
          this.#segments.shift();
          this.#pos = 0;
        } else if (this.#pos === before) {
          // Nothing read: like lwIP, the segment waits; it is offered again when more data arrives.
          break;
        }
      }
    } finally {
      this.#delivering = false;
    }
    if (this.#disconnectPending && this.#segments.length === 0) {
      this.#disconnectPending = false;
      this.#state = "peerClosed";
      this.callback(-1);
    }
  }

  #onSent(count: number): void {
    if (this.#state !== "open") return;
    this.#outstanding -= count;
    if (this.#outstanding < 0) this.#outstanding = 0;
    if (this.#outstanding === 0) this.callback(3, SEND_BUFFER);
  }

  #onClosed(): void {
    if (this.#state !== "open" && this.#state !== "connecting") return;
    if (this.#segments.length > 0) {
      this.#disconnectPending = true;
      this.#state = "open";
      return;
    }
    this.#state = "peerClosed";
    this.callback(-1);
  }

  #onError(reason: string): void {
    if (this.#state === "closed" || this.#state === "error") return;
    // The board's SDK traces why a handshake failed; the firmware only sees -2.
    if (this.#secure) host().log(`securesocket: ${reason}`);
    this.#state = "error";
    this.#segments.length = 0;
    this.callback(-2);
  }
}

export class Listener {
  constructor() {
    throw new Error("socket: Listener is not simulated");
  }
  callback: () => void = () => {};
  close(): void {}
}

const socket = Object.freeze({ Socket, Listener });
export default socket;

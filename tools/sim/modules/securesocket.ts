// Moddable "securesocket" with the board's semantics (modules/crypt/securesocket/securesocket.js and
// modsecuresocket.c, types/securesocket.d.ts), over a Socket as the SDK builds it. The handshake itself
// is real TLS done by the host (tools/sim/tls.ts) with the checks the SDK makes: the one CA given in
// `secure.certificate`, TLS 1.2, dates at the device's clock, the server's name against `host`.
//  - The constructor throws when the CA is outside its dates at Date.now() ("date validation failed",
//    as the SDK's does: a board whose clock is not set cannot open TLS).
//  - callback(1) only once the handshake and its checks succeeded; a failure is callback(-2) (the
//    board's SDK keeps no reason; here the socket logs it, as the SDK's trace lines do), and so is a
//    refused or reset connection; the server closing in order (FIN) mid-handshake is callback(-1).
//  - callback(2, n) with at most 1024 decrypted bytes; what the callback leaves unread is dropped.
//  - write() is the socket's free space minus 128 (the SDK's allowance for record overhead), 0 below
//    that; write(a, b, …) is all or nothing ("can't write all data"); callback(3, free - 128) once
//    everything written was acknowledged, and only when that is above 0.
// Lane-neutral: no Node API.
import { host } from "../host.ts";
import { utf8Bytes, utf8Text } from "../lib/utf8.ts";
import { Socket } from "./socket.ts";
import { wallClock } from "./time.ts";

/** The SDK's allowance for TLS record overhead in write() and the writable callback. */
export const TLS_OVERHEAD = 128;
/** Most decrypted bytes one readable callback delivers (securesocket.js). */
export const PLAIN_CHUNK = 1024;
/** protocolVersion for TLS 1.2; the SDK's highest, and the only one simulated. */
const TLS_1_2 = 0x0303;

type Message = 1 | 2 | 3 | -1 | -2;
type SecureCallback = (this: SecureSocket, message: Message, value?: number) => void;
type WriteData = string | number | ArrayBuffer | ArrayBufferView;

interface SecureOptions {
  protocolVersion?: number;
  certificate?: ArrayBuffer | ArrayBufferView;
  serverName?: string;
  verify?: boolean;
  trace?: boolean;
}

interface Dictionary {
  host?: string;
  address?: string;
  port: number;
  noDelay?: boolean;
  secure?: SecureOptions;
}

function bytesOf(item: WriteData): number {
  if (typeof item === "string") return utf8Bytes(item).length;
  if (typeof item === "number") return 1;
  if (item instanceof ArrayBuffer || ArrayBuffer.isView(item)) return item.byteLength;
  throw new Error("unsupported type for write");
}

export default class SecureSocket {
  callback: SecureCallback = () => {};
  readonly #sock: Socket;
  #up = false;
  #closed = false;
  /** The decrypted bytes of the current readable callback. */
  #data: Uint8Array | undefined;
  #pos = 0;

  constructor(dict: Dictionary) {
    if (typeof dict !== "object" || dict === null) throw new Error("invalid dictionary");
    const secure = dict.secure ?? {};
    if (secure.verify === false) throw new Error("securesocket (sim): verify false is not simulated (it turns every certificate check off)");
    if (secure.protocolVersion !== undefined && secure.protocolVersion !== TLS_1_2) {
      throw new Error(`securesocket (sim): protocolVersion 0x${secure.protocolVersion.toString(16)} not simulated (TLS 1.2, 0x0303, only)`);
    }
    const certificate = secure.certificate;
    if (certificate === undefined) throw new Error("securesocket (sim): give secure.certificate (the SDK's own CA store is not simulated)");
    const ca = ArrayBuffer.isView(certificate)
      ? new Uint8Array(certificate.buffer, certificate.byteOffset, certificate.byteLength).slice()
      : new Uint8Array(certificate).slice();
    const serverName = secure.serverName ?? dict.host ?? "";
    // The device's clock (Date.now() on the board): the host checks the CA's dates against it now, the
    // server's at the handshake.
    this.#sock = new Socket({ host: dict.host, address: dict.address, port: dict.port, noDelay: dict.noDelay, tls: { ca, serverName, now: wallClock() } });
    this.#sock.callback = (message, value) => this.#event(message, value);
  }

  #event(message: Message, value?: number): void {
    if (this.#closed) return;
    switch (message) {
      case 1:
        this.#up = true;
        this.callback(1);
        return;
      case 2: {
        // Inline, not a method of its own: the SDK's SecureSocket reaches the readable callback two
        // frames below the socket's (its arrow, then messageHandler), as this does; a third frame made
        // the firmware's TLS receive path deeper in the XS lane than on the board.
        const sock = this.#sock;
        const all = new Uint8Array(sock.read(ArrayBuffer));
        for (let i = 0; i < all.length && !this.#closed; i += PLAIN_CHUNK) {
          const data = all.subarray(i, Math.min(all.length, i + PLAIN_CHUNK));
          this.#data = data;
          this.#pos = 0;
          try {
            this.callback(2, data.length);
          } finally {
            this.#data = undefined;
          }
          if (this.#pos < data.length && !this.#closed) host().log(`securesocket: ${data.length - this.#pos} unread bytes dropped (the SDK keeps only what the readable callback reads)`);
        }
        return;
      }
      case 3:
        if (this.#up && value !== undefined && value > TLS_OVERHEAD) this.callback(3, value - TLS_OVERHEAD);
        return;
      default:
        this.callback(message);
        this.close();
    }
  }

  read(): number;
  read(type: typeof ArrayBuffer, count?: number): ArrayBuffer;
  read(type: typeof String, limit?: number | string): string;
  read(type: typeof Number): number;
  read(type: null, count?: number): number;
  read(...args: unknown[]): number | string | ArrayBuffer {
    const data = this.#data;
    const available = data === undefined ? 0 : data.length - this.#pos;
    if (args.length === 0) return available;
    if (data === undefined) throw new Error("securesocket: read outside the readable callback");
    if (available === 0) throw new Error("nothing to read");
    let count = available;
    const limit = args[1];
    if (typeof limit === "number" && limit < count) count = Math.max(0, Math.floor(limit));
    else if (typeof limit === "string" && limit.length > 0) {
      const at = data.indexOf(limit.charCodeAt(0) & 0xff, this.#pos);
      if (at >= 0) count = at - this.#pos + 1;
    }
    const start = this.#pos;
    const type = args[0];
    let result: number | string | ArrayBuffer;
    if (type === null) result = count;
    else if (type === String) result = utf8Text(data, start, start + count);
    else if (type === Number) {
      result = data[start];
      count = 1;
    } else if (type === ArrayBuffer) result = data.slice(start, start + count).buffer;
    else throw new Error("unsupported output type");
    this.#pos += count;
    return result;
  }

  write(): number;
  write(...data: WriteData[]): void;
  write(...data: WriteData[]): number | void {
    if (this.#closed) throw new Error("write on closed socket");
    const free = this.#up ? Math.max(0, this.#sock.write() - TLS_OVERHEAD) : 0;
    if (data.length === 0) return free;
    // Nothing may leave before the handshake (and its certificate checks) succeeded.
    if (!this.#up) throw new Error("securesocket: write before the TLS handshake finished");
    let needed = 0;
    for (const item of data) needed += bytesOf(item);
    if (needed > free) throw new Error("can't write all data");
    this.#sock.write(...data);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#data = undefined;
    try {
      this.#sock.close();
    } catch {
      // the socket had already closed itself after -1 / -2
    }
  }
}

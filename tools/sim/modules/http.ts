// The Moddable SDK's classic HTTP client, `Request` of module "http" (modules/network/http/http.js),
// for the simulator, written like firmware over our socket shims (plain or `Socket: SecureSocket`), so it
// runs in both lanes. The surface and behaviour the firmware relies on (types/http.d.ts):
//  - new Request({host | address, port = 80, path = "/", method = "GET", headers: [name, value, …],
//    body?: string | ArrayBuffer, response?: String | ArrayBuffer, Socket?, secure?, …}); the dictionary
//    is handed to `new Socket(…)` as the SDK does;
//  - the request line, "Connection: close", the headers, a content-length for a body, a Host header
//    unless one was given; then the body;
//  - callback(1, status) for the status line; callback(2, name, value) per header (name lower-cased,
//    both trimmed); callback(3) once the headers are in; the body by content-length, chunked, or until
//    the peer closes: without `response`, callback(4, n) per fragment, which the callback reads with
//    read(ArrayBuffer | String, n) (what it leaves unread of a chunked fragment is skipped); with
//    `response`, callback(5, body) at the end; callback(5) ends a streamed body; callback(-2) when the
//    connection fails or closes before the body is complete (Request.error is -2, as in http.js);
//  - the request closes itself after 5 or -2; close() stops it at any time and no callback follows.
// Lane-neutral: no Node API.
import socket from "./socket.ts";
import { utf8Bytes } from "../lib/utf8.ts";

type Callback = (message: number, value?: unknown, etc?: unknown) => unknown;
type SocketLike = {
  callback: (message: number, value?: number) => void;
  read(): number;
  read(type: typeof ArrayBuffer, count?: number): ArrayBuffer;
  read(type: typeof String, limit?: number | string): string;
  read(type: null, count?: number): number;
  write(): number;
  write(...data: (string | ArrayBuffer)[]): void;
  close(): void;
};
type SocketClass = new (dictionary: Dictionary) => SocketLike;

interface Dictionary {
  host?: string;
  address?: string;
  port?: number;
  path?: string;
  method?: string;
  headers?: (string | number)[];
  body?: string | ArrayBuffer | boolean;
  response?: typeof String | typeof ArrayBuffer;
  Socket?: SocketClass;
  [option: string]: unknown;
}

const CONNECTING = 0;
const SENDING = 1;
const STATUS = 3;
const HEADERS = 4;
const BODY = 5;
const DONE = 6;
const CLOSED = 11;

export class Request {
  static readonly requestFragment = 0;
  static readonly status = 1;
  static readonly header = 2;
  static readonly headersComplete = 3;
  static readonly responseFragment = 4;
  static readonly responseComplete = 5;
  static readonly error = -2;

  callback: Callback = () => {};
  #socket: SocketLike | undefined;
  #state = CONNECTING;
  #out: string[] = [];
  #body: string | ArrayBuffer | undefined;
  #line = "";
  /** Body bytes still expected (content-length), or undefined. */
  #total: number | undefined;
  /** Chunked: bytes left in the current chunk; -1 waiting for a size line; undefined: not chunked. */
  #chunk: number | undefined;
  #skipCrlf = 0;
  readonly #response: typeof String | typeof ArrayBuffer | undefined;
  #parts: (string | ArrayBuffer)[] = [];
  /** Bytes the callback may read in the current fragment. */
  #readable = 0;

  constructor(dictionary: Dictionary) {
    const d = { port: 80, method: "GET", path: "/", Socket: socket.Socket as unknown as SocketClass, ...dictionary };
    const host = d.host ?? d.address;
    const lines = [`${d.method} ${d.path} HTTP/1.1\r\n`, "Connection: close\r\n"];
    let length = false;
    let hostGiven = false;
    const headers = d.headers ?? [];
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = String(headers[i]);
      lines.push(`${name}: ${String(headers[i + 1])}\r\n`);
      const lower = name.toLowerCase();
      if (lower === "content-length") length = true;
      else if (lower === "host") hostGiven = true;
    }
    if (d.body !== undefined && d.body !== true && d.body !== false) {
      this.#body = d.body;
      if (!length) lines.push(`content-length: ${typeof d.body === "string" ? utf8Length(d.body) : d.body.byteLength}\r\n`);
    }
    if (!hostGiven && host !== undefined) lines.push(`Host: ${host}\r\n`);
    lines.push("\r\n");
    this.#out = lines;
    this.#response = d.response;
    const s = new d.Socket(d);
    this.#socket = s;
    s.callback = (message, value) => this.#event(message, value ?? 0);
  }

  /**
   * In a responseFragment callback: read() -> bytes left in the fragment; read(ArrayBuffer | String,
   * n?) -> at most n of them.
   */
  read(): number;
  read(type: typeof ArrayBuffer, count?: number): ArrayBuffer;
  read(type: typeof String, count?: number): string;
  read(type?: typeof ArrayBuffer | typeof String, count?: number): number | ArrayBuffer | string | undefined {
    const s = this.#socket;
    if (s === undefined) throw new Error("http: request closed");
    if (type === undefined) return this.#readable;
    let n = count === undefined || count > this.#readable ? this.#readable : count;
    if (n <= 0) return undefined;
    this.#readable -= n;
    if (this.#total !== undefined) this.#total -= n;
    if (this.#chunk !== undefined && this.#chunk > 0) this.#chunk -= n;
    return type === String ? s.read(String, n) : s.read(ArrayBuffer, n);
  }

  close(): void {
    this.#state = CLOSED;
    const s = this.#socket;
    this.#socket = undefined;
    this.#parts = [];
    this.callback = () => {};
    try {
      s?.close();
    } catch {
      // already closed by the peer
    }
  }

  #event(message: number, value: number): void {
    const s = this.#socket;
    if (s === undefined || this.#state >= DONE) return;
    if (message === 1) {
      this.#state = SENDING;
      message = 3;
      value = s.write();
    }
    if (message === 3 && this.#state === SENDING) {
      this.#send(s, value);
      return;
    }
    if (message === 2) {
      this.#receive(s);
      return;
    }
    if (message < 0) {
      // The peer closed (or the link failed): the end of a body without length, else an error.
      const complete = this.#state === BODY && this.#total === undefined && this.#chunk === undefined;
      this.#done(!complete);
    }
  }

  #send(s: SocketLike, free: number): void {
    const out = this.#out;
    while (out.length > 0) {
      const part = out[0];
      const size = utf8Length(part);
      if (size > free) return; // the rest once the socket has room (callback 3)
      s.write(part);
      free -= size;
      out.shift();
    }
    const body = this.#body;
    if (body !== undefined) {
      const size = typeof body === "string" ? utf8Length(body) : body.byteLength;
      if (size > free) return;
      s.write(body);
      this.#body = undefined;
    }
    this.#state = STATUS;
  }

  #receive(s: SocketLike): void {
    while (this.#state < DONE && this.#socket !== undefined && s.read() > 0) {
      if (this.#state === STATUS || this.#state === HEADERS) {
        const piece = s.read(String, "\n");
        this.#line += piece;
        if (!this.#line.endsWith("\n")) continue;
        const line = this.#line;
        this.#line = "";
        if (this.#state === STATUS) {
          const parts = line.trim().split(" ");
          if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
            this.#done(true);
            return;
          }
          this.#state = HEADERS;
          this.callback(Request.status, parseInt(parts[1], 10));
          continue;
        }
        if (line === "\r\n" || line === "\n") {
          this.callback(Request.headersComplete);
          if (this.#state >= DONE || this.#socket === undefined) return;
          this.#state = BODY;
          if (this.#total === 0) {
            this.#done(false);
            return;
          }
          continue;
        }
        const colon = line.indexOf(":");
        const name = (colon < 0 ? line : line.slice(0, colon)).trim().toLowerCase();
        const data = colon < 0 ? "" : line.slice(colon + 1).trim();
        this.callback(Request.header, name, data);
        if (name === "content-length") this.#total = parseInt(data, 10);
        else if (name === "transfer-encoding" && data.toLowerCase() === "chunked") this.#chunk = -1;
        continue;
      }
      // BODY
      if (this.#chunk !== undefined) {
        if (this.#skipCrlf > 0) {
          this.#skipCrlf -= s.read(null, this.#skipCrlf);
          continue;
        }
        if (this.#chunk === -1) {
          this.#line += s.read(String, "\n");
          if (!this.#line.endsWith("\n")) continue;
          const size = parseInt(this.#line.trim(), 16);
          this.#line = "";
          if (!(size >= 0)) {
            this.#done(true);
            return;
          }
          if (size === 0) {
            this.#chunk = undefined;
            this.#done(false);
            return;
          }
          this.#chunk = size;
          continue;
        }
        const n = Math.min(this.#chunk, s.read());
        this.#fragment(s, n);
        if (this.#socket === undefined) return;
        if (this.#readable > 0) {
          // what the callback left unread of a chunked fragment is skipped
          s.read(null, this.#readable);
          this.#chunk -= this.#readable;
          this.#readable = 0;
        }
        if (this.#chunk === 0) {
          this.#chunk = -1;
          this.#skipCrlf = 2;
        }
        continue;
      }
      const available = s.read();
      const n = this.#total === undefined ? available : Math.min(this.#total, available);
      if (n === 0) {
        s.read(null); // bytes past the body's length
        continue;
      }
      this.#fragment(s, n);
      if (this.#socket === undefined) return;
      if (this.#total === 0) {
        this.#done(false);
        return;
      }
      if (this.#readable > 0) return; // unread: the SDK waits for the next readable event
    }
  }

  #fragment(s: SocketLike, n: number): void {
    if (this.#response !== undefined) {
      this.#parts.push(this.#response === String ? s.read(String, n) : s.read(ArrayBuffer, n));
      if (this.#total !== undefined) this.#total -= n;
      if (this.#chunk !== undefined) this.#chunk -= n;
      return;
    }
    this.#readable = n;
    this.callback(Request.responseFragment, n);
  }

  #done(error: boolean): void {
    if (this.#state >= DONE) return;
    this.#state = DONE;
    let data: string | ArrayBuffer | undefined;
    if (!error && this.#response !== undefined) {
      const parts = this.#parts;
      if (this.#response === String) data = parts.join("");
      else {
        let size = 0;
        for (const p of parts) size += (p as ArrayBuffer).byteLength;
        const all = new Uint8Array(size);
        let at = 0;
        for (const p of parts) {
          all.set(new Uint8Array(p as ArrayBuffer), at);
          at += (p as ArrayBuffer).byteLength;
        }
        data = all.buffer;
      }
    }
    const callback = this.callback;
    try {
      callback(error ? Request.error : Request.responseComplete, data);
    } finally {
      this.close();
    }
  }
}

function utf8Length(s: string): number {
  return utf8Bytes(s).length;
}

const http = Object.freeze({ Request });
export default http;

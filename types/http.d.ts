// The Moddable SDK's classic HTTP client, module "http" (modules/network/http/http.js), as the
// firmware uses it. Replaces @moddable/typings' http.d.ts, whose Request.error is -1 (http.js sets
// -2), whose dictionary has no `Socket`/`secure`, and whose callback returns `any`.
// Messages: 1 status (value: the code), 2 header (value: name, lower case; etc: value), 3 headers
// complete, 4 response fragment (value: bytes to read with read()), 5 response complete (value: the
// body when `response` was given), -2 error. The request closes itself after 5 and -2.
// In the host tsconfig this merges with @types/node's "http": its names are chosen not to collide.
declare module "http" {
  import type { SecureOptions } from "securesocket";
  import type { SocketMessage, SocketStream, TCPSocketOptions } from "socket";

  export type RequestMessage = -2 | 0 | 1 | 2 | 3 | 4 | 5;

  export interface RequestDictionary {
    host?: string;
    address?: string;
    port?: number;
    path?: string;
    method?: string;
    /** name, value, name, value, … */
    headers?: (string | number)[];
    body?: string | ArrayBuffer;
    response?: typeof String | typeof ArrayBuffer;
    /** The socket class (default Socket; SecureSocket for HTTPS, with `secure`). */
    Socket?: new (options: TCPSocketOptions & { secure: SecureOptions }) => SocketStream & { callback: (message: SocketMessage, value?: number) => void };
    secure?: SecureOptions;
  }

  export class Request {
    constructor(options: RequestDictionary);
    callback: (message: RequestMessage, value?: unknown, etc?: unknown) => void;
    /** Bytes left in the current fragment. */
    read(): number;
    read(type: typeof ArrayBuffer, count?: number): ArrayBuffer;
    read(type: typeof String, count?: number): string;
    close(): void;
    static readonly requestFragment: 0;
    static readonly status: 1;
    static readonly header: 2;
    static readonly headersComplete: 3;
    static readonly responseFragment: 4;
    static readonly responseComplete: 5;
    static readonly error: -2;
  }
}

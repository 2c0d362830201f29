// The classic Moddable TCP socket (module "socket"), as the SDK implements it in
// modules/network/socket/socket.js and lwip/modSocket.c. Replaces @moddable/typings' socket.d.ts,
// which misspells `address` ("addresss"), types `read` as read(String | ArrayBuffer type, until),
// and leaves write's return undeclared.
//
// Message numbers passed to `callback` (the SDK defines no static constants on Socket, so none are
// declared here: compare against the numbers, e.g. via the SocketMessage type):
//   1 connected, 2 readable (value = bytes available now), 3 writable (value = free send bytes,
//   sent when all written data is acknowledged), -1 disconnected (peer closed), -2 error.
declare module "socket" {
  export type SocketMessage = 1 | 2 | 3 | -1 | -2;

  export interface TCPSocketOptions {
    /** DNS name to connect to (resolved by the network stack). */
    host?: string;
    /** IPv4 address literal ("192.168.1.10"); used when `host` is absent. */
    address?: string;
    port: number;
    kind?: "TCP";
    noDelay?: boolean;
    keepalive?: { enable?: boolean; idle?: number; interval?: number; count?: number };
  }

  /** What write() accepts: a string (UTF-8 bytes), a number (one byte) or a buffer. */
  export type SocketWriteData = string | number | ArrayBuffer | ArrayBufferView;

  /** Reading, writing and closing: the same on Socket and on "securesocket"'s SecureSocket. */
  export interface SocketStream {
    /** Bytes available to read (only meaningful inside the readable callback). */
    read(): number;
    /** Reads every available byte (or at most `count`) into a new ArrayBuffer. Readable callback only. */
    read(type: typeof ArrayBuffer, count?: number): ArrayBuffer;
    /** Reads bytes as a string (at most `count`, or up to and including `terminator`). */
    read(type: typeof String, limit?: number | string): string;
    /** Reads one byte. */
    read(type: typeof Number): number;
    /** Skips `count` bytes (or all) and returns how many were skipped. */
    read(type: null, count?: number): number;
    /** Free bytes in the send buffer. */
    write(): number;
    /**
     * Queues all arguments for sending, or nothing: throws if together they exceed write() free bytes.
     */
    write(...data: SocketWriteData[]): void;
    close(): void;
  }

  export interface Socket extends SocketStream {}
  export class Socket {
    constructor(options: TCPSocketOptions);
    /** Receives 1 | 2 | 3 | -1 | -2 (see above); `value` for 2 and 3. */
    callback: (this: Socket, message: SocketMessage, value?: number) => void;
    get(name: "REMOTE_IP"): string | undefined;
  }

  export interface ListenerOptions {
    port?: number;
    address?: string;
  }
  export class Listener {
    constructor(options: ListenerOptions);
    callback: (this: Listener) => void;
    close(): void;
  }

  const socket: { readonly Socket: typeof Socket; readonly Listener: typeof Listener };
  export default socket;
}

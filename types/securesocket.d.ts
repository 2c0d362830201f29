// The Moddable SDK's TLS client socket (module "securesocket", manifest $(MODDABLE)/modules/crypt/tls.json),
// as modules/crypt/securesocket/securesocket.js and modsecuresocket.c implement it. Replaces
// @moddable/typings' securesocket.d.ts, which types the constructor's dictionary as any, `sock` as the
// Socket class and leaves callback and write() undeclared.
//
// Same callback shape as Socket (types/socket.d.ts), with these differences:
//   - 1 (connected) comes only once the TLS handshake has finished, certificate checks included;
//   - a failed handshake is -2 (the SDK keeps no reason: its own trace() lines on the console say why);
//   - 2 (readable) delivers at most 1024 decrypted bytes per call, and what the callback leaves unread
//     is dropped;
//   - write() reports the socket's free bytes minus 128 (room for the record overhead), 0 below that;
//     write(…) is all or nothing, like Socket's.
// Certificate checks (modules/crypt/ssl/ssl_cert.js): the chain must end at `certificate` (or at a CA of
// the SDK's own store), every certificate's dates must hold at Date.now() (so the clock must be set),
// and the server certificate's subjectAltName must match the host (sent as SNI too).
declare module "securesocket" {
  import type { SocketMessage, SocketStream, TCPSocketOptions } from "socket";
  import type Resource from "Resource";

  export interface SecureOptions {
    /** 0x0303: TLS 1.2, the highest the SDK speaks. */
    protocolVersion?: number;
    /** The CA to trust, DER (e.g. `new Resource("onenet-ca.der")`). Its own dates are checked at construction. */
    certificate?: ArrayBuffer | Resource;
    /** Name checked against the server certificate and sent as SNI; default: the `host` option. */
    serverName?: string;
    /** false turns off every certificate check (never used here). */
    verify?: boolean;
    /** Trace the handshake to the console. */
    trace?: boolean;
  }

  export interface SecureSocketOptions extends TCPSocketOptions {
    secure: SecureOptions;
  }

  interface SecureSocket extends SocketStream {}
  class SecureSocket {
    /** Throws when the socket cannot be made, e.g. "date validation failed" for a CA outside its dates at Date.now(). */
    constructor(options: SecureSocketOptions);
    callback: (this: SecureSocket, message: SocketMessage, value?: number) => void;
  }
  export default SecureSocket;
}

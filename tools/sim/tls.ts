// Host side of the securesocket shim: the TLS handshake over a device connection, with the checks the
// Moddable SDK's TLS makes on the board (modules/crypt/ssl/ssl_cert.js, docs/moddable.md "TLS"):
//   - the chain must end at the one CA the firmware gave (no system CAs);
//   - TLS 1.2 only, with the cipher suites and the curve the SDK offers;
//   - every certificate's dates must hold at the DEVICE's clock (Date.now() on the board), and the
//     CA's own dates already when the socket is made (the SDK throws "date validation failed");
//   - the server certificate's subjectAltName must match the name the device connects to (dNSName,
//     one leading "*" label, or an IPv4 iPAddress; never the CN), and that name goes out as SNI.
// Node's own verification runs too, on the real clock: a certificate expired in real time is refused
// with Node's reason, one outside its dates only at the device clock with ours.
import { X509Certificate } from "node:crypto";
import { isIP, type Socket } from "node:net";
import { connect, type TLSSocket } from "node:tls";
import type { TlsOptions } from "./host.ts";

/** The SDK's cipher suites (modules/crypt/ssl/ssl_ciphersuites.js), in OpenSSL's names. */
export const SDK_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-SHA256",
  "DHE-RSA-AES128-GCM-SHA256",
  "DHE-RSA-AES256-SHA256",
  "DHE-RSA-AES128-SHA256",
  "AES256-SHA256",
  "AES128-SHA256",
  "AES256-SHA",
  "AES128-SHA",
].join(":");

/** Whether `cert` is within its dates at `now` (ms since 1970), as the SDK compares them. */
export function validAt(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) < now && now < Date.parse(cert.validTo);
}

/** The CA the device trusts, checked as the SDK checks it when the socket is made. Throws like the SDK. */
export function trustedCa(options: TlsOptions): X509Certificate {
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(Buffer.from(options.ca));
  } catch {
    throw new Error("securesocket: secure.certificate is not a DER X.509 certificate");
  }
  if (!validAt(ca, options.now)) throw new Error("date validation failed");
  return ca;
}

/** The SDK's name check: subjectAltName dNSName (a leading "*" covers one label) or IPv4 iPAddress. */
export function nameMatches(cert: X509Certificate, name: string): boolean {
  const wanted = name.toLowerCase();
  for (const entry of (cert.subjectAltName ?? "").split(", ")) {
    if (entry.startsWith("DNS:")) {
      const dns = entry.slice(4).toLowerCase();
      if (dns.startsWith("*")) {
        const dot = wanted.indexOf(".");
        if (dns.indexOf("*", 1) < 0 && dot >= 0 && dns.slice(1) === wanted.slice(dot)) return true;
      } else if (dns === wanted) return true;
    } else if (entry.startsWith("IP Address:") && entry.slice(11) === wanted) return true;
  }
  return false;
}

/** Node's verification codes, said the way a person reads them. */
function reasonOf(error: Error & { code?: string }): string {
  const code = error.code ?? "";
  if (/UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT)|SELF_SIGNED|CERT_SIGNATURE_FAILURE|CERT_UNTRUSTED|CERT_REJECTED/.test(code)) {
    return `the server certificate is not signed by the trusted CA (${code})`;
  }
  if (code === "CERT_HAS_EXPIRED") return `the server certificate has expired (${code})`;
  if (code === "CERT_NOT_YET_VALID") return `the server certificate is not valid yet (${code})`;
  if (code.startsWith("ERR_SSL_")) return `TLS refused: ${error.message.replace(/^.*routines:/, "")} (${code})`;
  return code ? `${error.message} (${code})` : error.message;
}

export interface TlsEvents {
  /** The handshake succeeded and every check passed. */
  secure(stream: TLSSocket): void;
  /** It failed; `reason` says why. */
  failed(reason: string): void;
  /**
   * The server closed the connection (FIN) before the handshake finished: the board's Socket reports
   * that as "disconnected" (-1), and the SDK's SecureSocket passes it on as -1, not as an error.
   */
  closed(): void;
}

/** What Node says when the peer closes in order (FIN) during a client handshake; a reset says "read ECONNRESET". */
const CLOSED_IN_HANDSHAKE = "Client network socket disconnected before secure TLS connection was established";

/** Starts the handshake over the connected `socket`; exactly one of the events follows. */
export function startTls(socket: Socket, options: TlsOptions, ca: X509Certificate, events: TlsEvents): TLSSocket {
  const name = options.serverName;
  let done = false;
  // Reported on a later turn: the link then destroys the sockets, and destroying the one under a TLS
  // stream from inside that stream's own callback crashes Node 20 (a segmentation fault).
  const fail = (reason: string): void => {
    if (done) return;
    done = true;
    setImmediate(() => events.failed(reason));
  };
  const closed = (): void => {
    if (done) return;
    done = true;
    setImmediate(() => events.closed());
  };
  const stream = connect({
    socket,
    ca: [ca.toString()],
    // SNI is a host name (RFC 6066): the SDK sends whatever it has, Node refuses an address.
    servername: name !== "" && isIP(name) === 0 ? name : undefined,
    minVersion: "TLSv1.2",
    maxVersion: "TLSv1.2",
    ciphers: SDK_CIPHERS,
    ecdhCurve: "P-256",
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => {
      if (name === "") return new Error("no host name to check the certificate against (tls_server_name required)");
      const leaf = new X509Certificate(cert.raw);
      return nameMatches(leaf, name) ? undefined : new Error(`the server certificate is not for ${name} (subjectAltName: ${leaf.subjectAltName ?? "none"})`);
    },
  });
  stream.on("secureConnect", () => {
    // The device's clock, not the host's: a board whose clock is off refuses what Node would accept.
    const seen = new Set<string>();
    for (let p = stream.getPeerCertificate(true); p?.raw !== undefined && !seen.has(p.fingerprint256); p = p.issuerCertificate) {
      seen.add(p.fingerprint256);
      const c = new X509Certificate(p.raw);
      if (!validAt(c, options.now)) {
        fail(`a certificate is outside its dates at the device clock (${new Date(options.now).toISOString()}): ${c.subject.replace(/\n/g, ", ")}, ${c.validFrom} .. ${c.validTo}`);
        return;
      }
    }
    if (done) return;
    done = true;
    events.secure(stream);
  });
  stream.on("error", (error: Error & { code?: string }) => (error.code === "ECONNRESET" && error.message === CLOSED_IN_HANDSHAKE ? closed() : fail(reasonOf(error))));
  stream.on("close", closed);
  return stream;
}

// Test certificates for the emulator's TLS listener (and for tests that need a broker with TLS): a CA
// and a server certificate it signs, made at start with the `openssl` command into a temporary folder,
// so no private key ever lives in the repository. Shaped like OneNET's (docs/onenet.md, "TLS"): RSA-2048,
// the server sends its certificate and the CA's (the Moddable SDK on the board needs the CA in the
// chain, docs/moddable.md "TLS"), and the server certificate names the hosts a device may dial: the
// OneNET endpoint, localhost and 127.0.0.1.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENDPOINTS } from "../../onenet/config.ts";

/** Names a test server certificate carries unless told otherwise. */
export const TEST_SERVER_NAMES = ["localhost", "127.0.0.1", ENDPOINTS.tls.host];

export interface CertificateFiles {
  /** PEM files. */
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: string;
  readonly key: string;
}

export interface ServerFiles extends CertificateFiles {
  /** The server certificate followed by its CA's: what the server sends. */
  readonly chainPath: string;
  readonly chain: string;
}

function openssl(args: string[]): void {
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === "ENOENT") throw new Error("the openssl command is needed to make test certificates (apt-get install openssl)");
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`);
  }
}

function files(dir: string, name: string): CertificateFiles {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  return { certPath, keyPath, cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") };
}

/** A self-signed CA (basicConstraints CA:TRUE, subject and authority key ids) valid `days` from now. */
export function makeCa(dir: string, name = "ca", subject = "/O=onenet-xs/CN=OneNET emulator test CA", days = 825): CertificateFiles {
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.pem`), "-days", String(days), "-subj", subject]);
  return files(dir, name);
}

/**
 * A server certificate signed by `ca` for `names` (host names and IPv4 addresses), valid `days` from
 * now; -1 makes one that expired a day before it was made.
 */
export function makeServerCertificate(dir: string, ca: CertificateFiles, options: { name?: string; names?: readonly string[]; days?: number } = {}): ServerFiles {
  const name = options.name ?? "server";
  const names = options.names ?? TEST_SERVER_NAMES;
  const san = names.map((n) => (/^\d{1,3}(\.\d{1,3}){3}$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=${san}`,
      "subjectKeyIdentifier=hash",
      "authorityKeyIdentifier=keyid",
    ].join("\n") + "\n",
  );
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, `${name}.key`), "-out", csr, "-subj", `/CN=${names[0] ?? "server"}`]);
  openssl([
    "x509", "-req", "-in", csr, "-CA", ca.certPath, "-CAkey", ca.keyPath, "-set_serial", `0x${randomBytes(8).toString("hex")}`,
    "-days", String(options.days ?? 397), "-extfile", ext, "-out", join(dir, `${name}.pem`),
  ]);
  const server = files(dir, name);
  const chainPath = join(dir, `${name}-chain.pem`);
  const chain = server.cert + ca.cert;
  writeFileSync(chainPath, chain);
  return { ...server, chainPath, chain };
}

export interface TestPki {
  readonly dir: string;
  readonly ca: CertificateFiles;
  readonly server: ServerFiles;
  /** Deletes the folder (keys included). */
  remove(): void;
}

/** A fresh CA and server certificate in a new temporary folder. */
export function makeTestPki(options: { names?: readonly string[]; days?: number } = {}): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "onenet-pki-"));
  const ca = makeCa(dir);
  const server = makeServerCertificate(dir, ca, { names: options.names, days: options.days });
  return { dir, ca, server, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

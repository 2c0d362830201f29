// Host side of the Resource shim: the build's resources as the manifest lists them ("resources": {"*":
// ["./certs/onenet-ca"]} puts certs/onenet-ca.der in flash as "onenet-ca.der"), read from the project.
// The sim-only `ca=<file>` setting replaces the OneNET CA (PEM or DER) with another one, e.g. the
// emulator's test CA, so the simulated device pins that one instead.
import { X509Certificate } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { projectRoot } from "./bundle.ts";

/** The resource `ca=` replaces: onenet/tls.ts's CA_RESOURCE (test/tls-sim.test.ts checks they agree). */
export const CA_RESOURCE = "onenet-ca.der";

/** The DER bytes of a certificate file, PEM or DER. Throws naming the file when it is neither. */
export function certificateFile(path: string): Uint8Array {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(path));
  } catch (error) {
    throw new Error(`ca=${path}: not a PEM or DER certificate (${error instanceof Error ? error.message : String(error)})`);
  }
  return new Uint8Array(cert.raw);
}

/** Every resource file the manifest names, by resource name. */
function manifestResources(): Map<string, string> {
  const found = new Map<string, string>();
  const manifest = JSON.parse(readFileSync(join(projectRoot, "manifest.json"), "utf8")) as { resources?: Record<string, string | string[]> };
  for (const entries of Object.values(manifest.resources ?? {})) {
    for (const entry of Array.isArray(entries) ? entries : [entries]) {
      if (entry.includes("$(")) continue; // the SDK's own, not simulated
      const dir = join(projectRoot, dirname(entry));
      const stem = basename(entry);
      if (!existsSync(dir)) continue;
      // Moddable matches a resource entry without extension to the file with any extension.
      for (const file of readdirSync(dir)) if (file === stem || file.startsWith(`${stem}.`)) found.set(file, join(dir, file));
    }
  }
  return found;
}

/** The resource `name` for a lane with `config` (mc/config), or undefined when the build has none. */
export function readResource(name: string, config: { readonly [key: string]: string | undefined }): Uint8Array | undefined {
  if (name === CA_RESOURCE && config.ca !== undefined && config.ca !== "") return certificateFile(config.ca);
  const path = manifestResources().get(name);
  return path === undefined ? undefined : new Uint8Array(readFileSync(path));
}

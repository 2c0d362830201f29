// `npm run image -- version=<v> [out=<file>]`: an OTA image the simulator boots. It is the firmware
// bundle the XS lane runs for `npm start` (main.ts, esbuild, with its source map for XS stack lines)
// with `version` baked into its mc/config, behind a small header:
//   "XSIMG1\n" {"version":…,"code":<bytes>,"map":<bytes>} "\n" <code> <map>
// Prints the file, its size and MD5 (what the emulator's task carries). Update.complete() in the
// simulator checks the magic; tools/sim/boot.ts reads the rest when it boots the slot.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { bundle, firmwareEntry, LineMap, projectRoot, type Bundle } from "./bundle.ts";
import { IMAGE_MAGIC } from "./lib/otadata.ts";
import { isVersion } from "../../onenet/ota.ts";

export interface Image {
  version: string;
  bundle: Bundle;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Builds the image of the firmware (main.ts) with `version` baked in. */
export async function buildImage(version: string, entry = "main.ts"): Promise<Uint8Array> {
  if (!isVersion(version)) throw new Error(`version ${JSON.stringify(version)}: 1..64 printable ASCII characters, no spaces`);
  const b = await bundle(firmwareEntry(resolve(projectRoot, entry)), projectRoot, { version });
  const code = enc.encode(b.code);
  const map = enc.encode(JSON.stringify(b.lines.payload));
  const head = enc.encode(`${IMAGE_MAGIC}${JSON.stringify({ version, code: code.length, map: map.length })}\n`);
  const out = new Uint8Array(head.length + code.length + map.length);
  out.set(head, 0);
  out.set(code, head.length);
  out.set(map, head.length + code.length);
  return out;
}

/** Reads an image; throws when the bytes are not one (the bootloader then falls back). */
export function parseImage(bytes: Uint8Array): Image {
  const magic = dec.decode(bytes.subarray(0, IMAGE_MAGIC.length));
  if (magic !== IMAGE_MAGIC) throw new Error("not an image (no magic)");
  const nl = bytes.indexOf(10, IMAGE_MAGIC.length);
  if (nl < 0 || nl > 1024) throw new Error("not an image (no header)");
  const header = JSON.parse(dec.decode(bytes.subarray(IMAGE_MAGIC.length, nl))) as { version?: unknown; code?: unknown; map?: unknown };
  const codeBytes = Number(header.code);
  const mapBytes = Number(header.map);
  if (typeof header.version !== "string" || !(codeBytes > 0) || !(mapBytes >= 0) || nl + 1 + codeBytes + mapBytes !== bytes.length) {
    throw new Error("not an image (header does not match its length)");
  }
  const code = dec.decode(bytes.subarray(nl + 1, nl + 1 + codeBytes));
  const map = JSON.parse(dec.decode(bytes.subarray(nl + 1 + codeBytes))) as ConstructorParameters<typeof LineMap>[0];
  return { version: header.version, bundle: { code, lines: new LineMap(map, code) } };
}

export function md5Hex(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

async function main(argv: string[]): Promise<number> {
  const args: Record<string, string> = {};
  for (const a of argv) {
    if (a === "--") continue;
    const eq = a.indexOf("=");
    if (eq <= 0 || !["version", "out"].includes(a.slice(0, eq))) {
      process.stderr.write(`[image] usage: npm run image -- version=<v> [out=<file>] (not ${JSON.stringify(a)})\n`);
      return 2;
    }
    args[a.slice(0, eq)] = a.slice(eq + 1);
  }
  if (args.version === undefined) {
    process.stderr.write("[image] usage: npm run image -- version=<v> [out=<file>]\n");
    return 2;
  }
  let image: Uint8Array;
  try {
    image = await buildImage(args.version);
  } catch (error) {
    process.stderr.write(`[image] ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const out = resolve(args.out ?? join(projectRoot, ".sim-storage", `firmware-${args.version}.img`));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, image);
  process.stdout.write(`${out}\nversion ${args.version}\nsize ${image.length}\nmd5 ${md5Hex(image)}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}

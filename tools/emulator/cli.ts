// `npm run emulator -- port=1883 httpPort=8080 [tlsPort=8883] product=PID device=NAME key=BASE64 [device=… key=…]`
// or `npm run emulator -- registry=devices.json`. Flags are key=value (a leading "--" is allowed).
// tlsPort= adds a TLS listener with a test CA made at start; the CA's PEM file is printed for devices.
// The fuse-ota API is on httpPort; apiTlsPort= serves it over HTTPS too (same certificate and CA).
// ota=<image file> otaVersion=<v> starts an OTA task for every device at start.
// Each device= starts a device; product= applies to the devices after it; key= to the last device.
// registry file: [{product, device, key}, …] or {"devices": [...], "products": [{product, key}]}.
// Keys must be base64 as the OneNET console shows them: the firmware refuses any other (onenet/config.ts).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { isBase64 } from "../../onenet/config.ts";
import { startEmulator } from "./server.ts";
import { isOtaVersion } from "./ota.ts";
import type { DeviceEntry, EmulatorOptions, ProductEntry } from "./types.ts";

/** A mistake in the OTA flags: one line says it all, without the usage text. */
class OtaFlagError extends Error {}

/** The options, and the OTA task to start once the emulator runs. */
export type CliOptions = EmulatorOptions & { ota?: { file: string; image: Buffer; version: string } };

export const USAGE =
  "usage: npm run emulator -- [host=127.0.0.1] [port=1883] [httpPort=8080] [tlsPort=8883] [apiTlsPort=8443] [thingModel=file.json] " +
  "[ota=image.bin otaVersion=1.3.0] " +
  "(product=PID device=NAME key=BASE64)... | registry=file.json";

export function parseArgs(argv: string[]): CliOptions {
  const devices: DeviceEntry[] = [];
  const products: ProductEntry[] = [];
  const options: CliOptions = { devices, products, port: 1883, httpPort: 8080 };
  let otaFile: string | undefined;
  let otaVersion: string | undefined;
  let product = "";
  let current: { device: string; key: string; product: string } | undefined;
  const finish = (): void => {
    if (!current) return;
    if (!current.product) throw new Error(`device ${current.device}: product= must come before device=`);
    if (!current.key) throw new Error(`device ${current.device}: key= missing`);
    if (!isBase64(current.key)) throw new Error(`device ${current.device}: key= is not base64 (value not shown)`);
    devices.push({ product: current.product, device: current.device, key: current.key });
    current = undefined;
  };
  for (const raw of argv) {
    const arg = raw.replace(/^--?/, "");
    const eq = arg.indexOf("=");
    if (eq <= 0) throw new Error(`argument "${raw}" is not key=value`);
    const name = arg.slice(0, eq);
    const value = arg.slice(eq + 1);
    const port = (): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name}=${value} is not a port number`);
      return n;
    };
    switch (name) {
      case "host":
        options.host = value;
        break;
      case "port":
        options.port = port();
        break;
      case "httpPort":
      case "http-port":
        options.httpPort = port();
        break;
      case "tlsPort":
      case "tls-port":
        options.tlsPort = port();
        break;
      case "apiTlsPort":
      case "api-tls-port":
        options.apiTlsPort = port();
        break;
      case "ota":
        otaFile = value;
        break;
      case "otaVersion":
      case "ota-version":
        otaVersion = value;
        break;
      case "thingModel":
      case "thing-model":
        options.thingModelPath = value;
        break;
      case "product":
        if (current && !current.product) current.product = value;
        else product = value;
        break;
      case "device":
        finish();
        current = { device: value, key: "", product };
        break;
      case "key":
        if (!current) throw new Error("key= must follow device=");
        if (current.key) throw new Error(`device ${current.device}: key= given twice`);
        current.key = value;
        break;
      case "productKey":
        if (!product) throw new Error("productKey= must follow product=");
        if (!isBase64(value)) throw new Error(`product ${product}: productKey= is not base64 (value not shown)`);
        products.push({ product, key: value });
        break;
      case "registry": {
        const json: unknown = JSON.parse(readFileSync(value, "utf8"));
        const list = Array.isArray(json) ? json : (json as { devices?: unknown }).devices;
        if (!Array.isArray(list)) throw new Error(`registry ${value}: expected an array of {product, device, key}`);
        for (const d of list as Partial<DeviceEntry>[]) {
          if (typeof d.product !== "string" || typeof d.device !== "string" || typeof d.key !== "string") {
            throw new Error(`registry ${value}: each entry needs string product, device and key`);
          }
          if (!isBase64(d.key)) throw new Error(`registry ${value}: device ${d.device}: key is not base64 (value not shown)`);
          devices.push({ product: d.product, device: d.device, key: d.key });
        }
        const prods = Array.isArray(json) ? [] : (json as { products?: unknown }).products;
        if (Array.isArray(prods)) {
          for (const p of prods as Partial<ProductEntry>[]) {
            if (typeof p.product !== "string" || typeof p.key !== "string" || !isBase64(p.key)) {
              throw new Error(`registry ${value}: each product needs a string product and a base64 key`);
            }
            products.push({ product: p.product, key: p.key });
          }
        }
        break;
      }
      default:
        throw new Error(`unknown flag ${name}=`);
    }
  }
  finish();
  if (devices.length === 0) throw new Error("no device: give product= device= key= or registry=");
  if (otaFile !== undefined || otaVersion !== undefined) {
    if (!otaFile) throw new OtaFlagError("otaVersion= needs ota=<image file>");
    if (!otaVersion) throw new OtaFlagError(`ota=${otaFile} needs otaVersion=<version>`);
    if (!isOtaVersion(otaVersion)) throw new OtaFlagError(`otaVersion=${otaVersion}: 1..32 letters, digits, '.', '_' or '-'`);
    let image: Buffer;
    try {
      image = readFileSync(otaFile);
    } catch (error) {
      throw new OtaFlagError(`ota=${otaFile}: cannot read the image (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    if (image.byteLength === 0) throw new OtaFlagError(`ota=${otaFile}: the image is empty`);
    options.ota = { file: otaFile, image, version: otaVersion };
  }
  return options;
}

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`emulator: ${(error as Error).message}${error instanceof OtaFlagError ? "" : "\n" + USAGE}`);
    process.exit(2);
  }
  const emulator = await startEmulator(options);
  console.log(`broker: ${emulator.brokerUrl}`);
  if (emulator.brokerTlsUrl) console.log(`broker (TLS): ${emulator.brokerTlsUrl}`);
  if (emulator.tlsCaPath) {
    console.log(`CA: ${emulator.tlsCaPath} (a test CA made now, deleted at exit: trust it with npm start -- ca=${emulator.tlsCaPath})`);
  }
  console.log(`console: ${emulator.consoleUrl}`);
  console.log(`fuse-ota api on ${emulator.apiUrl}`);
  if (emulator.apiTlsUrl) console.log(`fuse-ota api on ${emulator.apiTlsUrl}`);
  for (const d of options.devices) console.log(`device: product=${d.product} device=${d.device}`);
  if (options.ota) {
    const task = emulator.startOta(options.ota.image, options.ota.version);
    console.log(`ota task: tid=${task.tid} target=${task.target} size=${task.size} md5=${task.md5} file=${options.ota.file}`);
  }
  const stop = (): void => {
    emulator.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: Error) => {
    console.error(`emulator: ${error.message}`);
    process.exit(1);
  });
}

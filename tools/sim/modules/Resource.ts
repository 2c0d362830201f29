// Moddable "Resource": read-only data the manifest's "resources" section puts in flash, by name
// (`new Resource("onenet-ca.der")`). The host reads the project's files (tools/sim/resources.ts). On the
// board it is a HostBuffer over flash; here a copy in an ArrayBuffer, which reads the same.
import { host } from "../host.ts";

export default class Resource {
  constructor(path: string) {
    const bytes = host().resource(String(path));
    if (bytes === undefined) throw new Error(`Resource not found: ${String(path)}`);
    // What the firmware holds is the bytes themselves, as a HostBuffer is on the board.
    return bytes.slice().buffer as unknown as Resource;
  }

  static exists(path: string): boolean {
    return host().resource(String(path)) !== undefined;
  }
}

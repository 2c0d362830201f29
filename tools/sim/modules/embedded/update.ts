// ECMA-419 `embedded:update` as the Moddable SDK implements it on the ESP32
// (modules/io/update/esp32, over esp_ota_*): `Update.open({partition, mode?, byteLength?})` with
// `partition` a handle from embedded:storage/flash's open({path: "nextota"}); write(buffer) appends
// (mode "a", the default) or write(buffer, offset) in mode "w"; complete() ends the image (ESP-IDF
// validates it: here the simulator's image magic, tools/sim/image.ts) and makes its slot the boot slot,
// state "new" (tools/sim/lib/otadata.ts); close() without complete() aborts and changes nothing.
// The bytes go to the slot file beside the flash file (host slotWrite). Lane-neutral.
import { host } from "../../host.ts";
import { AppPartition, IMAGE_MAGIC, OTADATA_KEY, parseOtaData, SLOT_BYTES } from "../../lib/otadata.ts";

type Bytes = ArrayBuffer | ArrayBufferView;

function view(buffer: Bytes): Uint8Array {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  throw new TypeError("invalid buffer");
}

class Update {
  readonly #partition: AppPartition;
  readonly #append: boolean;
  #open = true;
  #writing = true;
  #length = 0;
  readonly #head = new Uint8Array(IMAGE_MAGIC.length);

  constructor(partition: AppPartition, append: boolean) {
    this.#partition = partition;
    this.#append = append;
    // esp_ota_begin erases the slot (sequential writes: as they go; the effect is the same).
    host().slotErase(partition.slot);
  }

  get format(): "buffer" {
    return "buffer";
  }
  set format(value: string) {
    if (value !== "buffer") throw new RangeError("invalid");
  }

  write(buffer: Bytes, byteOffset?: number): void {
    if (!this.#open) throw new Error("closed");
    if (!this.#writing) throw new Error("already complete");
    const bytes = view(buffer);
    let offset = this.#length;
    if (this.#append) {
      if (byteOffset !== undefined) throw new Error("offset not allowed");
    } else {
      offset = Number(byteOffset);
      if (!(offset >= 0 && offset <= 0xffffffff)) throw new RangeError("invalid offset");
    }
    if (offset + bytes.length > SLOT_BYTES) throw new Error("write failed");
    for (let i = 0; i < bytes.length && offset + i < this.#head.length; i++) this.#head[offset + i] = bytes[i];
    host().slotWrite(this.#partition.slot, offset, bytes);
    if (offset + bytes.length > this.#length) this.#length = offset + bytes.length;
  }

  complete(): void {
    if (!this.#open) throw new Error("closed");
    if (!this.#writing) throw new Error("already complete");
    this.#writing = false;
    let magic = this.#length >= IMAGE_MAGIC.length;
    for (let i = 0; magic && i < IMAGE_MAGIC.length; i++) magic = this.#head[i] === IMAGE_MAGIC.charCodeAt(i);
    if (!magic) throw new Error("end failed");
    const data = parseOtaData(host().storageGet(OTADATA_KEY));
    data.previous = data.running;
    data.boot = this.#partition.slot;
    data.state = "new";
    host().storageSet(OTADATA_KEY, JSON.stringify(data));
  }

  close(): void {
    this.#open = false;
  }
}

const UpdateModule = Object.freeze({
  open(options: { partition: unknown; mode?: string; byteLength?: number }): Update {
    if (typeof options !== "object" || options === null || options.partition === undefined) throw new Error("no partition");
    const partition = options.partition;
    if (!(partition instanceof AppPartition) || !partition.open) throw new Error("partition not found");
    if (!partition.writable) throw new Error("read-only partition");
    const mode = options.mode ?? "a";
    if (mode !== "a" && mode !== "w") throw new RangeError("invalid mode");
    if (options.byteLength !== undefined && !(options.byteLength >= 0 && options.byteLength <= SLOT_BYTES)) throw new RangeError("invalid byteLength");
    return new Update(partition, mode === "a");
  },
});

export default UpdateModule;

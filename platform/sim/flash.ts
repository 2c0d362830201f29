// The Moddable desktop simulators (lin, mac) have no flash partition for the app: the readings log
// lives in a RAM model with NOR's rules (erase sets 0xFF, a write only clears bits), 64 blocks of
// 4 KB. It does not survive a restart of the simulator; `npm start` runs the board's flash role over a
// file-backed model instead.
import type { FlashLike } from "../../store/ring";

const BLOCK = 4096;
const BLOCKS = 64;

class RamFlash implements FlashLike {
  readonly #bytes = new Uint8Array(BLOCK * BLOCKS).fill(0xff);

  status(): { size: number; blockLength: number; blocks: number } {
    return { size: this.#bytes.length, blockLength: BLOCK, blocks: BLOCKS };
  }

  read(buffer: ArrayBuffer | ArrayBufferView, byteOffset: number): number {
    const into = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    into.set(this.#bytes.subarray(byteOffset, byteOffset + into.length));
    return into.length;
  }

  write(buffer: ArrayBuffer | ArrayBufferView, byteOffset: number): void {
    const data = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    const bytes = this.#bytes;
    for (let i = 0; i < data.length; i++) bytes[byteOffset + i] &= data[i];
  }

  eraseBlock(start: number, end?: number): void {
    this.#bytes.fill(0xff, start * BLOCK, (end ?? start + 1) * BLOCK);
  }
}

export default function openFlash(partition: string): FlashLike {
  if (partition !== "readings") throw new Error("can't find partition");
  return new RamFlash();
}

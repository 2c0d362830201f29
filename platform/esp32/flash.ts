// The readings partition (partitions.csv: `readings`, a data partition of 4 KB blocks) through
// ECMA-419 `embedded:storage/flash`. Under `npm start` and in tests the same file runs over the
// simulator's NOR-flash model (tools/sim/modules/embedded/storage/flash.ts).
import FlashStorage from "embedded:storage/flash";
import type { FlashLike } from "../../store/ring";

export default function openFlash(partition: string): FlashLike {
  return FlashStorage.open({ path: partition });
}

// Rate measurement for CPU-bound operations: interleaved rounds of ours and the anchor, median of
// the rounds, so a burst of load from elsewhere hits both sides alike.
export function opsPerSecond(op: () => void, roundMs = 150): number {
  const start = performance.now();
  let n = 0;
  let elapsed = 0;
  do {
    for (let i = 0; i < 256; i++) op();
    n += 256;
    elapsed = performance.now() - start;
  } while (elapsed < roundMs);
  return (n * 1000) / elapsed;
}

export function compare(ours: () => void, anchor: () => void, rounds = 7): { ours: number; anchor: number } {
  opsPerSecond(ours, 100); // warm up both: JIT tiers settle before anything is counted
  opsPerSecond(anchor, 100);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    a.push(opsPerSecond(ours));
    b.push(opsPerSecond(anchor));
  }
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1];
  return { ours: Math.round(median(a)), anchor: Math.round(median(b)) };
}

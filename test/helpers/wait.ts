// Waiting for a condition in tests that run against real sockets: poll, with a generous deadline
// (these machines are loaded; the deadline is a failure guard, never a performance claim).
export async function until(condition: () => boolean, what: string, timeoutMs = 30000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Something tests wait on without polling or sleeping: next() resolves at the following notify()
 * (every waiter at once). Wire notify() to the callback that means "try again" (e.g. onDrain).
 */
export class Signal {
  #waiters: Array<() => void> = [];

  next(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/** Lets pending I/O callbacks run (one turn of the event loop), without waiting for any time. */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

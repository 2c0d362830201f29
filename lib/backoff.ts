// Retry delays for anything that reconnects (Wi-Fi, MQTT): the first delay doubles per failure up to
// a cap, and each is scaled by a random factor so a fleet that lost the same access point or broker
// does not come back in step. State lives in the instance; the random source is injected so tests
// and simulations are reproducible.

export interface BackoffOptions {
  /** First delay (ms). */
  readonly min: number;
  /** Longest delay before jitter (ms). */
  readonly max: number;
  /** Each delay is its nominal value times a factor drawn from [low, high). */
  readonly low: number;
  readonly high: number;
  /** Random source in [0, 1). */
  readonly random: () => number;
}

export class Backoff {
  readonly #min: number;
  readonly #max: number;
  readonly #low: number;
  readonly #span: number;
  readonly #random: () => number;
  #failures = 0;

  constructor(options: BackoffOptions) {
    this.#min = options.min;
    this.#max = options.max;
    this.#low = options.low;
    this.#span = options.high - options.low;
    this.#random = options.random;
  }

  /** Counts a failure and returns the delay before the next try (ms, whole, at least 1). */
  next(): number {
    // The exponent stops at 30: past it every realistic delay is at the cap, and 2^n stays finite.
    const nominal = Math.min(this.#max, this.#min * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    return Math.max(1, Math.round(nominal * (this.#low + this.#random() * this.#span)));
  }

  /** A success: the next delay starts from `min` again. */
  reset(): void {
    this.#failures = 0;
  }
}

/**
 * A 32-bit hash of a text (FNV-1a over its UTF-16 code units): spreads a device identity (a MAC, a
 * client id) over the seed space of a jitter generator, and tags stored records with the identity
 * they were made for. Not a cryptographic hash.
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

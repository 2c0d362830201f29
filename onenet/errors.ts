// Typed errors of the OneNET layer. Messages name the field at fault and never carry a secret value.

/** A bad configuration value; `key` is the config key (product, device, key, host, …). */
export class ConfigError extends Error {
  readonly key: string;
  constructor(key: string, problem: string) {
    super(`onenet config: ${key}: ${problem}`);
    this.name = "ConfigError";
    this.key = key;
  }
}

/** Something the platform forbids or a misuse of the OneNET API, refused locally before it is sent. */
export class OneNetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OneNetError";
  }
}

/** A downlink payload that is not the OneJSON the platform sends; `id` when the request's id was read. */
export class PayloadError extends Error {
  readonly id: string | undefined;
  constructor(message: string, id?: string) {
    super(message);
    this.name = "PayloadError";
    this.id = id;
  }
}

// Moddable modules the app shell uses on the board that the project's firmware tsconfig does not take
// from @moddable/typings: `pins/digital` (LED) and `sntp` (clock). Written from the SDK's sources
// (modules/pins/digital/digital.js, modules/network/sntp/sntp.js) and matching its typings
// (typings/pins/digital.d.ts, typings/sntp.d.ts), narrowed to what the app calls.

declare module "pins/digital" {
  export default class Digital {
    constructor(dictionary: { pin: number; mode: number; port?: string });
    read(): number;
    write(value: number): void;
    static read(pin: number): number;
    static write(pin: number, value: number): void;
    static readonly Input: 0;
    static readonly Output: 8;
  }
}

declare module "sntp" {
  /** 1 time (value = Unix seconds), 2 retrying with the next host, -1 failed. */
  type SNTPMessage = -1 | 1 | 2;
  export default class SNTP {
    constructor(options: { host: string }, callback: (message: SNTPMessage, value?: number) => void);
    close(): void;
    static readonly time: 1;
    static readonly retry: 2;
    static readonly error: -1;
  }
}

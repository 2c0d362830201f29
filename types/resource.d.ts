// Module "Resource" ($(MODULES)/files/resource): read-only data the manifest's "resources" section puts
// in flash, by file name. Replaces @moddable/typings' Resource.d.ts, which extends HostBuffer from its
// xs.d.ts (not part of our firmware scope).
declare module "Resource" {
  export default class Resource {
    /** Throws when the build has no resource of that name. */
    constructor(path: string);
    readonly byteLength: number;
    /** A copy of the bytes from `begin` to `end`. */
    slice(begin: number, end?: number): ArrayBuffer;
    static exists(path: string): boolean;
  }
}

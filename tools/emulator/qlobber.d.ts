// The part of qlobber (aedes' topic matcher, via mqemitter) the emulator uses; the package ships no types.
declare module "qlobber" {
  export interface QlobberOptions {
    separator?: string;
    wildcard_one?: string;
    wildcard_some?: string;
    match_empty_levels?: boolean;
  }
  /** A set of topic filters that only answers whether a topic matches one of them. */
  export class QlobberTrue {
    constructor(options?: QlobberOptions);
    add(filter: string): this;
    remove(filter: string): this;
    test(topic: string): boolean;
  }
  const qlobber: { QlobberTrue: typeof QlobberTrue };
  export default qlobber;
}

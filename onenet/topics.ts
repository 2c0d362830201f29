// The OneJSON thing-model topics of one device, `$sys/{pid}/{device}/thing/...`, built once at boot
// (the MQTT client encodes each topic once too). Downlink topics are recognised
// by string equality, with no per-message allocation.

/** What a downlink topic is (plain numbers: no enum, so any TS-stripping tool compiles this file). */
export type Downlink = 0 | 1 | 2 | 3 | 4 | 5 | 6;
export const DOWN_NONE = 0;
export const DOWN_POST_REPLY = 1;
export const DOWN_SET = 2;
export const DOWN_GET = 3;
export const DOWN_EVENT_REPLY = 4;
export const DOWN_HISTORY_REPLY = 5;
export const DOWN_OTA_INFORM = 6;

export class Topics {
  /** `$sys/{pid}/{device}/` */
  readonly prefix: string;
  readonly propertyPost: string;
  readonly propertyPostReply: string;
  readonly propertySet: string;
  readonly propertySetReply: string;
  readonly propertyGet: string;
  readonly propertyGetReply: string;
  readonly eventPost: string;
  readonly eventPostReply: string;
  /** Back-filled readings, each value with its own time (store/uplink.ts). */
  readonly historyPost: string;
  readonly historyPostReply: string;
  /** `$sys/{pid}/{device}/thing/#`, what the official SDK subscribes to. */
  readonly thingAll: string;
  /** OTA notices ("go and check", onenet/ota.ts) and their answer. */
  readonly otaInform: string;
  readonly otaInformReply: string;

  constructor(product: string, device: string) {
    const p = `$sys/${product}/${device}/`;
    this.prefix = p;
    this.propertyPost = p + "thing/property/post";
    this.propertyPostReply = p + "thing/property/post/reply";
    this.propertySet = p + "thing/property/set";
    this.propertySetReply = p + "thing/property/set_reply";
    this.propertyGet = p + "thing/property/get";
    this.propertyGetReply = p + "thing/property/get_reply";
    this.eventPost = p + "thing/event/post";
    this.eventPostReply = p + "thing/event/post/reply";
    this.historyPost = p + "thing/history/post";
    this.historyPostReply = p + "thing/history/post/reply";
    this.thingAll = p + "thing/#";
    this.otaInform = p + "ota/inform";
    this.otaInformReply = p + "ota/inform_reply";
  }

  /** The downlink topics the device needs (post replies, property set and get, OTA notices): one SUBSCRIBE. */
  subscriptions(): string[] {
    return [this.propertyPostReply, this.propertySet, this.propertyGet, this.eventPostReply, this.historyPostReply, this.otaInform];
  }

  classify(topic: string): Downlink {
    if (topic === this.propertyPostReply) return DOWN_POST_REPLY;
    if (topic === this.propertySet) return DOWN_SET;
    if (topic === this.propertyGet) return DOWN_GET;
    if (topic === this.eventPostReply) return DOWN_EVENT_REPLY;
    if (topic === this.historyPostReply) return DOWN_HISTORY_REPLY;
    if (topic === this.otaInform) return DOWN_OTA_INFORM;
    return DOWN_NONE;
  }

  /** True when the device may publish to `topic` (inside its own `$sys/{pid}/{device}/` space). */
  owns(topic: string): boolean {
    return topic.length > this.prefix.length && topic.startsWith(this.prefix);
  }
}

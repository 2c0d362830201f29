// MQTT 3.1.1 packets as values, and the wire numbers both directions of the codec share. Field
// names follow mqtt-packet / MQTT.js so that users of the JavaScript MQTT ecosystem feel at home.
// Decoded packets carry every field of their type.

export type QoS = 0 | 1 | 2;

export interface Will {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
}

export interface ConnectPacket {
  cmd: "connect";
  protocolId: "MQTT";
  protocolVersion: 4;
  clean: boolean;
  keepalive: number;
  clientId: string;
  will?: Will;
  username?: string;
  password?: Uint8Array;
}

/** CONNACK return codes [MQTT-3.2.2.3]: 0 accepted; 1..5 refusals. */
export type ConnackReturnCode = 0 | 1 | 2 | 3 | 4 | 5;

export interface ConnackPacket {
  cmd: "connack";
  sessionPresent: boolean;
  returnCode: ConnackReturnCode;
}

export interface PublishPacket {
  cmd: "publish";
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  dup: boolean;
  retain: boolean;
  /** Present exactly when qos > 0. */
  messageId?: number;
}

export interface AckPacket<C extends "puback" | "pubrec" | "pubrel" | "pubcomp" | "unsuback"> {
  cmd: C;
  messageId: number;
}
export type PubackPacket = AckPacket<"puback">;
export type PubrecPacket = AckPacket<"pubrec">;
export type PubrelPacket = AckPacket<"pubrel">;
export type PubcompPacket = AckPacket<"pubcomp">;
export type UnsubackPacket = AckPacket<"unsuback">;

export interface Subscription {
  topic: string;
  qos: QoS;
}

export interface SubscribePacket {
  cmd: "subscribe";
  messageId: number;
  subscriptions: Subscription[];
}

/** Granted QoS per subscription, or 0x80 for failure [MQTT-3.9.3]. */
export type GrantedQoS = QoS | 0x80;

export interface SubackPacket {
  cmd: "suback";
  messageId: number;
  granted: GrantedQoS[];
}

export interface UnsubscribePacket {
  cmd: "unsubscribe";
  messageId: number;
  unsubscriptions: string[];
}

export interface PingreqPacket { cmd: "pingreq" }
export interface PingrespPacket { cmd: "pingresp" }
export interface DisconnectPacket { cmd: "disconnect" }

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket;

/**
 * What `encode` accepts: omitted booleans are false, an omitted qos is 0, and the fixed fields of
 * CONNECT (protocolId, protocolVersion) may be left out.
 */
export type PacketInput =
  | (Omit<ConnectPacket, "protocolId" | "protocolVersion" | "clean" | "will"> & {
      protocolId?: "MQTT";
      protocolVersion?: 4;
      clean?: boolean;
      will?: Omit<Will, "qos" | "retain"> & { qos?: QoS; retain?: boolean };
    })
  | (Omit<ConnackPacket, "sessionPresent"> & { sessionPresent?: boolean })
  | (Omit<PublishPacket, "qos" | "dup" | "retain"> & { qos?: QoS; dup?: boolean; retain?: boolean })
  | Exclude<Packet, ConnectPacket | ConnackPacket | PublishPacket>;

// ---------------------------------------------------------------------------------------------
// Wire identities both directions of the codec share

/** Packet type numbers, the high nibble of the first byte [MQTT-2.2.1]. */
export const CONNECT = 1;
export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const PUBREC = 5;
export const PUBREL = 6;
export const PUBCOMP = 7;
export const SUBSCRIBE = 8;
export const SUBACK = 9;
export const UNSUBSCRIBE = 10;
export const UNSUBACK = 11;
export const PINGREQ = 12;
export const PINGRESP = 13;
export const DISCONNECT = 14;

/** The largest remaining length four bytes can express [MQTT-2.2.3]. */
export const MAX_REMAINING_LENGTH = 268_435_455;

/** The protocol name of CONNECT, length-prefixed "MQTT" [MQTT-3.1.2-1]. */
export const PROTOCOL_NAME: readonly number[] = Object.freeze([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54]);

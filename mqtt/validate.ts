// The MQTT 3.1.1 rules on strings and topics, stated once for the encoder, the decoder and the
// session's API. Each *Problem function returns why a value breaks a rule, or "" when it keeps them,
// so every caller raises its own error: the codec a ProtocolError (a packet that must not go on the
// wire), the session an MqttUsageError (bad input from the app).

import { utf8Length } from "../lib/utf8";

/** Bytes that break MQTT 3.1.1, or a packet that would. The message names the rule. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** Why `s` cannot be an MQTT UTF-8 string, or "" [MQTT-1.5.3]. */
export function stringProblem(s: unknown): string {
  if (typeof s !== "string") return `expected a string, got ${typeof s}`;
  const length = utf8Length(s);
  if (length < 0) return "lone surrogate, not well-formed UTF-8 [MQTT-1.5.3-1]";
  if (s.indexOf("\u0000") !== -1) return "contains U+0000 [MQTT-1.5.3-2]";
  if (length > 65535) return `${length} bytes, over the 65535 of an MQTT string [MQTT-1.5.3]`;
  return "";
}

/** Why `topic` cannot be a topic name, or "": never empty, no wildcards [MQTT-4.7.3-1, MQTT-3.3.2-2]. */
export function topicNameProblem(topic: string): string {
  if (topic.length === 0) return "topic name is empty [MQTT-4.7.3-1]";
  if (topic.indexOf("+") !== -1 || topic.indexOf("#") !== -1) {
    return `wildcard in topic name ${JSON.stringify(topic)} [MQTT-3.3.2-2]`;
  }
  return "";
}

/**
 * Why `filter` cannot be a topic filter, or "": never empty; '#' only as the whole last level, '+'
 * only as a whole level [MQTT-4.7.3-1, MQTT-4.7.1-2, MQTT-4.7.1-3].
 */
export function topicFilterProblem(filter: string): string {
  if (filter.length === 0) return "topic filter is empty [MQTT-4.7.3-1]";
  for (let i = 0, n = filter.length; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === 0x23 /* # */) {
      if (i !== n - 1 || (i > 0 && filter.charCodeAt(i - 1) !== 0x2f)) {
        return `'#' must be the last level of ${JSON.stringify(filter)} [MQTT-4.7.1-2]`;
      }
    } else if (c === 0x2b /* + */) {
      if ((i > 0 && filter.charCodeAt(i - 1) !== 0x2f) || (i < n - 1 && filter.charCodeAt(i + 1) !== 0x2f)) {
        return `'+' must fill a whole level of ${JSON.stringify(filter)} [MQTT-4.7.1-3]`;
      }
    }
  }
  return "";
}

/** Throws a ProtocolError naming `what` when `topic` is not a valid topic name. */
export function checkTopicName(topic: string, what: string): void {
  const problem = topicNameProblem(topic);
  if (problem !== "") throw new ProtocolError(`${what}: ${problem}`);
}

/** Throws a ProtocolError naming `what` when `filter` is not a valid topic filter. */
export function checkTopicFilter(filter: string, what: string): void {
  const problem = topicFilterProblem(filter);
  if (problem !== "") throw new ProtocolError(`${what}: ${problem}`);
}

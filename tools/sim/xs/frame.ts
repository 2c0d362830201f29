// The XS lane's message frame, both ways across the xsnap boundary: the UTF-8 JSON header, then, when
// there is a payload, a 0 byte and the raw bytes. Pure, so the bridge (inside XS) and the lane (Node)
// share it.

/** Joins an encoded header and an optional payload into one message. */
export function frame(head: Uint8Array, payload?: Uint8Array): Uint8Array {
  if (payload === undefined) return head;
  const message = new Uint8Array(head.length + 1 + payload.length);
  message.set(head, 0);
  message[head.length] = 0;
  message.set(payload, head.length + 1);
  return message;
}

// Klipper's variable-length integers (klipper-can.md §6): signed, 7 bits per
// byte, most significant group first, bit 7 = more bytes follow; a first
// byte with both 0x60 bits set starts a negative number.

import { CanflashError } from "../util/errors.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    MSGPROTO_VLQ: true;
  }
}

export class VlqError extends CanflashError {
  constructor(message: string) {
    super("MSGPROTO_VLQ", message);
  }
}

/** Encodes a 32-bit value (signed, or unsigned up to 0xFFFFFFFF) in 1–5 bytes, as Klipper's host does. */
export function encodeVlq(value: number): number[] {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0xffffffff) {
    throw new VlqError(`${value} does not fit a 32-bit parameter`);
  }
  const v = value;
  let n: number;
  if (v >= -32 && v < 96) n = 1;
  else if (v >= -4096 && v < 12288) n = 2;
  else if (v >= -524288 && v < 1572864) n = 3;
  else if (v >= -67108864 && v < 201326592) n = 4;
  else n = 5;
  const out: number[] = [];
  const group = (k: number) => ((Math.floor(v / 2 ** (7 * k)) % 128) + 128) % 128;
  for (let k = n - 1; k >= 1; k--) out.push(group(k) | 0x80);
  out.push(group(0));
  return out;
}

/** Decodes at `pos`: the value as a signed 32-bit integer and the next position. */
export function decodeVlq(bytes: Uint8Array, pos: number): { value: number; next: number } {
  if (pos >= bytes.length)
    throw new VlqError(`integer expected at offset ${pos}, but the message ended`);
  let b = bytes[pos++]!;
  let v = b & 0x7f;
  if ((b & 0x60) === 0x60) v -= 0x80;
  let count = 1;
  while (b & 0x80) {
    if (pos >= bytes.length) throw new VlqError("integer cut short at the end of the message");
    if (++count > 5) throw new VlqError("integer longer than 5 bytes");
    b = bytes[pos++]!;
    v = (v * 128 + (b & 0x7f)) | 0;
  }
  return { value: v | 0, next: pos };
}

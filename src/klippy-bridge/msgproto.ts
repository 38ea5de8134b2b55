// Klipper's message protocol, pure (klipper-can.md §6–7): blocks of
//   len | seq (0x10 | n) | messages | CRC-16/MCRF4XX big-endian | 0x7e
// carrying messages whose parameters are VLQ integers or length-prefixed
// strings, described by format strings such as
// "identify_response offset=%u data=%.*s".

import { CanflashError } from "../util/errors.js";
import { crc16Mcrf4xx } from "../util/crc16.js";
import { decodeVlq, encodeVlq } from "./vlq.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    MSGPROTO: true;
  }
}

export const MESSAGE_MIN = 5;
export const MESSAGE_MAX = 64;
export const MESSAGE_SYNC = 0x7e;
export const MESSAGE_DEST = 0x10;
export const MESSAGE_SEQ_MASK = 0x0f;

export class MsgprotoError extends CanflashError {
  constructor(message: string) {
    super("MSGPROTO", message);
  }
}

/** Frames message content as a block with sequence number `seq` (0–15). */
export function encodeBlock(seq: number, content: Uint8Array): Uint8Array {
  const len = content.length + MESSAGE_MIN;
  if (len > MESSAGE_MAX)
    throw new MsgprotoError(`a ${len}-byte block exceeds Klipper's ${MESSAGE_MAX}-byte limit`);
  const out = new Uint8Array(len);
  out[0] = len;
  out[1] = MESSAGE_DEST | (seq & MESSAGE_SEQ_MASK);
  out.set(content, 2);
  const crc = crc16Mcrf4xx(out.subarray(0, len - 3));
  out[len - 3] = crc >> 8;
  out[len - 2] = crc & 0xff;
  out[len - 1] = MESSAGE_SYNC;
  return out;
}

export interface Block {
  /** Low nibble of the sequence byte. */
  seq: number;
  /** The messages (between header and trailer). */
  content: Uint8Array;
}

/**
 * Reassembles blocks from a byte stream. On a bad block (length, sequence
 * nibble, sync byte or CRC) it skips through the next 0x7e, as Klipper does;
 * leading 0x7e bytes are dropped. Keeps partial blocks for the next push.
 */
export class BlockReader {
  private buf = new Uint8Array(0);
  /** Bytes thrown away while resynchronising. */
  discarded = 0;
  /** Bad blocks seen (length, sequence, sync or CRC). */
  bad = 0;
  private needSync = false;

  push(bytes: Uint8Array): Block[] {
    const next = new Uint8Array(this.buf.length + bytes.length);
    next.set(this.buf);
    next.set(bytes, this.buf.length);
    this.buf = next;
    const blocks: Block[] = [];
    let pos = 0;
    for (;;) {
      if (this.needSync) {
        const sync = this.buf.indexOf(MESSAGE_SYNC, pos);
        if (sync < 0) {
          this.discarded += this.buf.length - pos;
          pos = this.buf.length;
          break;
        }
        this.discarded += sync + 1 - pos;
        pos = sync + 1;
        this.needSync = false;
      }
      while (pos < this.buf.length && this.buf[pos] === MESSAGE_SYNC) pos++;
      if (this.buf.length - pos < MESSAGE_MIN) break;
      const len = this.buf[pos]!;
      const seq = this.buf[pos + 1]!;
      if (len < MESSAGE_MIN || len > MESSAGE_MAX || (seq & ~MESSAGE_SEQ_MASK) !== MESSAGE_DEST) {
        this.bad++;
        this.needSync = true;
        continue;
      }
      if (this.buf.length - pos < len) break;
      const end = pos + len;
      const crc = (this.buf[end - 3]! << 8) | this.buf[end - 2]!;
      if (
        this.buf[end - 1] !== MESSAGE_SYNC ||
        crc !== crc16Mcrf4xx(this.buf.subarray(pos, end - 3))
      ) {
        this.bad++;
        this.needSync = true;
        continue;
      }
      blocks.push({ seq: seq & MESSAGE_SEQ_MASK, content: this.buf.slice(pos + 2, end - 3) });
      pos = end;
    }
    this.buf = this.buf.slice(pos);
    return blocks;
  }

  reset(): void {
    this.buf = new Uint8Array(0);
    this.needSync = false;
  }
}

export type ParamType = "int" | "buffer";

/** A parsed format string: "identify offset=%u count=%c". */
export interface MessageFormat {
  name: string;
  params: Array<{ name: string; type: ParamType }>;
}

/** Parses a Klipper format string. */
export function parseFormat(format: string): MessageFormat {
  const [name, ...rest] = format.trim().split(/\s+/);
  if (!name) throw new MsgprotoError(`empty message format`);
  const params = rest.map((p): { name: string; type: ParamType } => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(%u|%i|%hu|%hi|%c|%s|%\.\*s|%\*s)$/.exec(p);
    if (!m) throw new MsgprotoError(`unsupported parameter "${p}" in "${format}"`);
    return { name: m[1]!, type: m[2]!.endsWith("s") ? "buffer" : "int" };
  });
  return { name, params };
}

export type MessageParams = Record<string, number | Uint8Array>;

/** Encodes message id + parameters. */
export function encodeMessage(
  id: number,
  format: MessageFormat,
  params: MessageParams,
): Uint8Array {
  const out = [...encodeVlq(id)];
  for (const p of format.params) {
    const v = params[p.name];
    if (v === undefined) throw new MsgprotoError(`${format.name}: parameter ${p.name} missing`);
    if (p.type === "int") {
      if (typeof v !== "number")
        throw new MsgprotoError(`${format.name}: ${p.name} must be a number`);
      out.push(...encodeVlq(v));
    } else {
      if (!(v instanceof Uint8Array))
        throw new MsgprotoError(`${format.name}: ${p.name} must be bytes`);
      if (v.length > 255)
        throw new MsgprotoError(`${format.name}: ${p.name} longer than 255 bytes`);
      out.push(v.length, ...v);
    }
  }
  return Uint8Array.from(out);
}

/** Decodes one message's parameters starting after its id; returns them and the next position. */
export function decodeParams(
  content: Uint8Array,
  pos: number,
  format: MessageFormat,
): { params: MessageParams; next: number } {
  const params: MessageParams = {};
  for (const p of format.params) {
    if (p.type === "int") {
      let r: { value: number; next: number };
      try {
        r = decodeVlq(content, pos);
      } catch (e) {
        throw new MsgprotoError(`${format.name}: ${p.name}: ${(e as Error).message}`);
      }
      params[p.name] = r.value;
      pos = r.next;
    } else {
      if (pos >= content.length) throw new MsgprotoError(`${format.name}: ${p.name} missing`);
      const len = content[pos++]!;
      if (pos + len > content.length)
        throw new MsgprotoError(
          `${format.name}: ${p.name} claims ${len} bytes, ${content.length - pos} left`,
        );
      params[p.name] = content.slice(pos, pos + len);
      pos += len;
    }
  }
  return { params, next: pos };
}

/** identify's fixed ids in every Klipper build. */
export const IDENTIFY_ID = 1;
export const IDENTIFY_RESPONSE_ID = 0;
export const IDENTIFY = parseFormat("identify offset=%u count=%c");
export const IDENTIFY_RESPONSE = parseFormat("identify_response offset=%u data=%.*s");
/** Bytes asked per identify (Klipper uses 40; the response must fit one block). */
export const IDENTIFY_CHUNK = 40;

export function identifyRequest(offset: number, count = IDENTIFY_CHUNK): Uint8Array {
  return encodeMessage(IDENTIFY_ID, IDENTIFY, { offset, count });
}

/** The identify_response messages in a block's content (other messages are skipped when their id is unknown, ending the scan). */
export function findIdentifyResponses(
  content: Uint8Array,
): Array<{ offset: number; data: Uint8Array }> {
  const out: Array<{ offset: number; data: Uint8Array }> = [];
  let pos = 0;
  while (pos < content.length) {
    const id = decodeVlq(content, pos);
    if (id.value !== IDENTIFY_RESPONSE_ID) break; // a message we cannot parse without the dictionary
    const r = decodeParams(content, id.next, IDENTIFY_RESPONSE);
    out.push({ offset: r.params.offset as number, data: r.params.data as Uint8Array });
    pos = r.next;
  }
  return out;
}

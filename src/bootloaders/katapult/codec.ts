// Katapult (CanBoot) command frames, pure. The same layout both ways:
//   01 88 | code | N | payload (4·N bytes) | CRC-16/MCRF4XX LE over code..payload | 99 03
// The device accepts frames of at most 128 bytes (N ≤ 30); replies may be
// any length. Integers inside frames are little-endian.

import { CanflashError } from "../../util/errors.js";
import { crc16Mcrf4xx } from "../../util/crc16.js";

declare module "../../util/errors.js" {
  interface ErrorCodes {
    KATAPULT_FRAME: true;
  }
}

export const STX1 = 0x01;
export const STX2 = 0x88;
export const ETX1 = 0x99;
export const ETX2 = 0x03;
/** Largest frame the device accepts (MESSAGE_MAX); longer ones wedge it. */
export const DEVICE_MAX_FRAME = 128;
export const FRAME_OVERHEAD = 8;

export const Cmd = {
  CONNECT: 0x11,
  SEND_BLOCK: 0x12,
  SEND_EOF: 0x13,
  REQUEST_BLOCK: 0x14,
  COMPLETE: 0x15,
  GET_CANBUS_ID: 0x16,
} as const;
export type CommandCode = (typeof Cmd)[keyof typeof Cmd];

export const Resp = {
  ACK: 0xa0,
  NACK: 0xf1,
  COMMAND_ERROR: 0xf2,
  BUSY: 0xf3,
} as const;

export const COMMAND_NAMES: Record<number, string> = {
  0x11: "CONNECT",
  0x12: "SEND_BLOCK",
  0x13: "SEND_EOF",
  0x14: "REQUEST_BLOCK",
  0x15: "COMPLETE",
  0x16: "GET_CANBUS_ID",
};

/** Protocol versions as the device reports them (0x00MMmmpp). */
export const PROTO_1_0_0 = 0x00010000;
export const PROTO_1_1_0 = 0x00010100;

/**
 * The invalid command flashtool writes first on USB to release the STM32
 * USBFS double-buffered first IN packet ("prime"); the device answers f2.
 */
export const PRIME_FRAME = Uint8Array.of(0x01, 0x88, 0x90, 0x00, 0xe5, 0xe9, 0x99, 0x03);

export class KatapultFrameError extends CanflashError {
  constructor(message: string) {
    super("KATAPULT_FRAME", message);
  }
}

/** Builds a frame. Payload must be whole words; frames the device cannot accept are refused. */
export function encodeFrame(
  code: number,
  payload: Uint8Array = new Uint8Array(),
  maxFrame = DEVICE_MAX_FRAME,
): Uint8Array {
  if (payload.length % 4 !== 0)
    throw new KatapultFrameError(`payload of ${payload.length} bytes is not whole 4-byte words`);
  const n = payload.length / 4;
  const size = FRAME_OVERHEAD + payload.length;
  if (n > 255 || size > maxFrame) {
    throw new KatapultFrameError(
      `a ${size}-byte frame exceeds the ${maxFrame}-byte limit (it would wedge the device)`,
    );
  }
  const out = new Uint8Array(size);
  out[0] = STX1;
  out[1] = STX2;
  out[2] = code;
  out[3] = n;
  out.set(payload, 4);
  const crc = crc16Mcrf4xx(out.subarray(2, 4 + payload.length));
  out[4 + payload.length] = crc & 0xff;
  out[5 + payload.length] = crc >> 8;
  out[6 + payload.length] = ETX1;
  out[7 + payload.length] = ETX2;
  return out;
}

export function u32le(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  return b;
}

export function readU32le(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true);
}

export const connectFrame = (): Uint8Array => encodeFrame(Cmd.CONNECT);
export const sendEofFrame = (): Uint8Array => encodeFrame(Cmd.SEND_EOF);
export const completeFrame = (): Uint8Array => encodeFrame(Cmd.COMPLETE);
export const getCanbusIdFrame = (): Uint8Array => encodeFrame(Cmd.GET_CANBUS_ID);

/** SEND_BLOCK: address word + exactly one block of data. */
export function sendBlockFrame(address: number, data: Uint8Array): Uint8Array {
  const payload = new Uint8Array(4 + data.length);
  payload.set(u32le(address), 0);
  payload.set(data, 4);
  return encodeFrame(Cmd.SEND_BLOCK, payload);
}

/** REQUEST_BLOCK: always exactly one word (with none the device reads the CRC as the address). */
export function requestBlockFrame(address: number): Uint8Array {
  return encodeFrame(Cmd.REQUEST_BLOCK, u32le(address));
}

/** Largest block size a SEND_BLOCK frame can carry within the device's frame limit. */
export function maxSendableBlockSize(maxFrame = DEVICE_MAX_FRAME): number {
  return maxFrame - FRAME_OVERHEAD - 4;
}

/** A frame parsed from the device: code and raw payload (4·N bytes). */
export interface KatapultFrame {
  code: number;
  payload: Uint8Array;
}

/**
 * Reassembles frames from a byte stream. Finds `01 88`, waits for the whole
 * frame, checks trailer and CRC; on a bad frame drops one byte and rescans.
 * Surplus bytes stay for the next frame. Counts what it discarded.
 *
 * By default only headers a device can send are believed (ACK with N ≥ 1,
 * NACK/ERROR/BUSY with N = 0), so a stray `01 88` followed by a large length
 * byte cannot stall the stream while it waits for hundreds of bytes.
 */
export class FrameParser {
  constructor(
    private readonly acceptHeader: (code: number, n: number) => boolean = plausibleReplyHeader,
  ) {}

  private buf = new Uint8Array(0);
  /** Bytes discarded while resynchronising. */
  discarded = 0;
  /** Frames rejected for a bad trailer or CRC. */
  badFrames = 0;

  push(bytes: Uint8Array): KatapultFrame[] {
    if (bytes.length > 0) {
      const next = new Uint8Array(this.buf.length + bytes.length);
      next.set(this.buf, 0);
      next.set(bytes, this.buf.length);
      this.buf = next;
    }
    const frames: KatapultFrame[] = [];
    let pos = 0;
    for (;;) {
      // find header
      while (
        pos < this.buf.length &&
        !(this.buf[pos] === STX1 && (pos + 1 >= this.buf.length || this.buf[pos + 1] === STX2))
      ) {
        pos++;
        this.discarded++;
      }
      if (this.buf.length - pos < FRAME_OVERHEAD) break;
      const n = this.buf[pos + 3]!;
      if (!this.acceptHeader(this.buf[pos + 2]!, n)) {
        this.badFrames++;
        this.discarded++;
        pos++;
        continue;
      }
      const size = FRAME_OVERHEAD + 4 * n;
      if (this.buf.length - pos < size) break;
      const end = pos + size;
      const crc = this.buf[end - 4]! | (this.buf[end - 3]! << 8);
      if (
        this.buf[end - 2] !== ETX1 ||
        this.buf[end - 1] !== ETX2 ||
        crc !== crc16Mcrf4xx(this.buf.subarray(pos + 2, end - 4))
      ) {
        this.badFrames++;
        this.discarded++;
        pos++;
        continue;
      }
      frames.push({ code: this.buf[pos + 2]!, payload: this.buf.slice(pos + 4, end - 4) });
      pos = end;
    }
    this.buf = this.buf.slice(pos);
    return frames;
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pending(): number {
    return this.buf.length;
  }

  reset(): void {
    this.buf = new Uint8Array(0);
  }
}

/** Headers a Katapult device can send. */
export function plausibleReplyHeader(code: number, n: number): boolean {
  if (code === Resp.ACK) return n >= 1;
  return (code === Resp.NACK || code === Resp.COMMAND_ERROR || code === Resp.BUSY) && n === 0;
}

/** Any header (for parsing host frames, e.g. in traces). */
export const anyHeader = (): boolean => true;

export type Response =
  | { kind: "ack"; command: number; data: Uint8Array }
  | { kind: "nack" }
  | { kind: "error" }
  | { kind: "busy" }
  | { kind: "unknown"; code: number };

/** Classifies a device frame; ACK data excludes the echo word. */
export function decodeResponse(frame: KatapultFrame): Response {
  switch (frame.code) {
    case Resp.ACK:
      if (frame.payload.length < 4) return { kind: "unknown", code: frame.code };
      return { kind: "ack", command: readU32le(frame.payload, 0), data: frame.payload.slice(4) };
    case Resp.NACK:
      return { kind: "nack" };
    case Resp.COMMAND_ERROR:
      return { kind: "error" };
    case Resp.BUSY:
      return { kind: "busy" };
    default:
      return { kind: "unknown", code: frame.code };
  }
}

export interface ConnectInfo {
  /** 0x00MMmmpp as reported. */
  protocolVersion: number;
  /** "1.1.0" */
  protocol: string;
  appStart: number;
  blockSize: number;
  mcu: string;
  /** Katapult build version (protocol 1.1.0+); undefined when not reported. */
  softwareVersion: string | undefined;
}

const text = new TextDecoder("latin1");

/** Decodes CONNECT's ACK data (after the echo word), protocol 1.0.0 and 1.1.0 layouts. */
export function decodeConnect(data: Uint8Array): ConnectInfo {
  if (data.length < 12)
    throw new KatapultFrameError(`CONNECT reply too short (${data.length} bytes)`);
  const protocolVersion = readU32le(data, 0);
  let rest = data.subarray(12);
  let end = rest.length;
  while (end > 0 && rest[end - 1] === 0) end--;
  rest = rest.subarray(0, end);
  const nul = rest.indexOf(0);
  const mcu = text.decode(nul < 0 ? rest : rest.subarray(0, nul));
  let version: string | undefined;
  if (nul >= 0) {
    let start = nul;
    while (start < rest.length && rest[start] === 0) start++;
    version = text.decode(rest.subarray(start)) || undefined;
  }
  return {
    protocolVersion,
    protocol: `${(protocolVersion >> 16) & 0xff}.${(protocolVersion >> 8) & 0xff}.${protocolVersion & 0xff}`,
    appStart: readU32le(data, 4),
    blockSize: readU32le(data, 8),
    mcu,
    softwareVersion: version,
  };
}

/** Builds CONNECT ACK data (after the echo word) the way the firmware lays it out. */
export function encodeConnectData(info: {
  protocolVersion: number;
  appStart: number;
  blockSize: number;
  mcu: string;
  softwareVersion?: string;
}): Uint8Array {
  const enc = new TextEncoder();
  const mcu = enc.encode(info.mcu);
  const mcuWords = Math.ceil(mcu.length / 4);
  const withVersion = info.protocolVersion >= PROTO_1_1_0;
  const ver = enc.encode(info.softwareVersion ?? "");
  const verWords = withVersion ? Math.ceil(ver.length / 4) : 0;
  const out = new Uint8Array(12 + 4 * mcuWords + (withVersion ? 4 + 4 * verWords : 0));
  out.set(u32le(info.protocolVersion), 0);
  out.set(u32le(info.appStart), 4);
  out.set(u32le(info.blockSize), 8);
  out.set(mcu, 12);
  if (withVersion) out.set(ver, 12 + 4 * mcuWords + 4);
  return out;
}

/** An ACK frame as the device sends it: echo word, then data (padded to words). */
export function encodeAck(command: number, data: Uint8Array = new Uint8Array()): Uint8Array {
  const padded = new Uint8Array(4 + Math.ceil(data.length / 4) * 4);
  padded.set(u32le(command), 0);
  padded.set(data, 4);
  return encodeFrame(Resp.ACK, padded, Infinity);
}

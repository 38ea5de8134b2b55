// The socket format between a USB host (canflash's socket backend, the
// stand-in libusb) and a device model (../shared/docs/testing-usb.md): one
// model = one Unix socket = one device; a refused connection = unplugged.
// Pure codec.
//
// Request: 13 bytes, then the OUT payload.
//   0      op: C control, E bulk/interrupt, L claim, U release, R reset
//   1..8   C: setup packet (bmRequestType, bRequest, wValue, wIndex, wLength; LE)
//          E: endpoint address, 0, timeout ms (u32 LE), then the IN length
//             (u16 LE: the notes' two zero bytes; 0 = up to the model)
//          L/U: interface number, then zeros
//   9..12  OUT payload length, int32 LE (0 for IN)
// Reply: int32 LE status (≥ 0 bytes transferred, < 0 a libusb error), then
// for IN transfers that many bytes.

import type { SetupPacket } from "./device.js";

export const REQUEST_HEADER = 13;

export type UsbRequest =
  | { op: "control"; setup: SetupPacket; data?: Uint8Array }
  | { op: "transfer"; endpoint: number; timeoutMs: number; length: number; data?: Uint8Array }
  | { op: "claim" | "release"; iface: number }
  | { op: "reset" };

export interface UsbReply {
  /** ≥ 0: bytes transferred; < 0: a libusb error number (UsbStatus). */
  status: number;
  /** IN data (status bytes of it). */
  data?: Uint8Array;
}

/** Is the request's data phase device-to-host? */
export const isIn = (r: UsbRequest): boolean =>
  r.op === "control"
    ? (r.setup.bmRequestType & 0x80) !== 0
    : r.op === "transfer" && (r.endpoint & 0x80) !== 0;

export function encodeRequest(r: UsbRequest): Uint8Array {
  const payload =
    (r.op === "control" || r.op === "transfer") && !isIn(r)
      ? (r.data ?? new Uint8Array(0))
      : new Uint8Array(0);
  const b = new Uint8Array(REQUEST_HEADER + payload.length);
  const v = new DataView(b.buffer);
  switch (r.op) {
    case "control":
      b[0] = 0x43; // C
      b[1] = r.setup.bmRequestType;
      b[2] = r.setup.bRequest;
      v.setUint16(3, r.setup.wValue, true);
      v.setUint16(5, r.setup.wIndex, true);
      v.setUint16(7, isIn(r) ? r.setup.wLength : payload.length, true);
      break;
    case "transfer":
      b[0] = 0x45; // E
      b[1] = r.endpoint;
      v.setUint32(3, r.timeoutMs >>> 0, true);
      v.setUint16(7, isIn(r) ? r.length : 0, true);
      break;
    case "claim":
    case "release":
      b[0] = r.op === "claim" ? 0x4c : 0x55; // L / U
      b[1] = r.iface;
      break;
    case "reset":
      b[0] = 0x52; // R
      break;
  }
  v.setInt32(9, payload.length, true);
  b.set(payload, REQUEST_HEADER);
  return b;
}

/** A request header that names no op the format has. */
export class WireFormatError extends Error {}

/** Parses a header; returns the request (without payload) and the payload length to read next. */
export function decodeRequestHeader(h: Uint8Array): { request: UsbRequest; payload: number } {
  if (h.length < REQUEST_HEADER)
    throw new WireFormatError(`short request header (${h.length} bytes)`);
  const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const payload = v.getInt32(9, true);
  if (payload < 0) throw new WireFormatError(`negative payload length ${payload}`);
  const op = String.fromCharCode(h[0]!);
  switch (op) {
    case "C":
      return {
        request: {
          op: "control",
          setup: {
            bmRequestType: h[1]!,
            bRequest: h[2]!,
            wValue: v.getUint16(3, true),
            wIndex: v.getUint16(5, true),
            wLength: v.getUint16(7, true),
          },
        },
        payload,
      };
    case "E":
      return {
        request: {
          op: "transfer",
          endpoint: h[1]!,
          timeoutMs: v.getUint32(3, true),
          length: v.getUint16(7, true),
        },
        payload,
      };
    case "L":
    case "U":
      return { request: { op: op === "L" ? "claim" : "release", iface: h[1]! }, payload };
    case "R":
      return { request: { op: "reset" }, payload };
    default:
      throw new WireFormatError(`unknown request op 0x${h[0]!.toString(16)}`);
  }
}

export function encodeReply(r: UsbReply): Uint8Array {
  const data = r.status > 0 && r.data ? r.data.subarray(0, r.status) : new Uint8Array(0);
  const b = new Uint8Array(4 + data.length);
  new DataView(b.buffer).setInt32(0, r.status, true);
  b.set(data, 4);
  return b;
}

// The gs_usb host protocol (candleLight firmware, the Linux gs_usb driver,
// Klipper's USB-to-CAN bridge): vendor control requests, their structures
// (all u32 little-endian) and the host frame on the bulk endpoints. Pure.
//
// Host frame (classic CAN): echo_id u32, can_id u32 (EFF/RTR/ERR flags in
// the top bits), dlc u8, channel u8, flags u8, reserved u8, data[8]; 20
// bytes, 24 with a hardware timestamp (u32 µs) after the data. A frame the
// host sent comes back with its echo_id once it left the controller; a
// received frame carries echo_id 0xFFFFFFFF.

import { CAN_EFF_MASK, CAN_SFF_MASK, canFrame, type CanFrame } from "../can/frame.js";

export const GsRequest = {
  HOST_FORMAT: 0,
  BITTIMING: 1,
  MODE: 2,
  BERR: 3,
  BT_CONST: 4,
  DEVICE_CONFIG: 5,
  TIMESTAMP: 6,
  IDENTIFY: 7,
  GET_STATE: 14,
} as const;

/** bmRequestType: vendor, interface recipient, host to device / device to host. */
export const GS_REQUEST_OUT = 0x41;
export const GS_REQUEST_IN = 0xc1;

/** HOST_FORMAT's byte-order marker. */
export const GS_HOST_FORMAT_MAGIC = 0x0000beef;
/** echo_id of a frame received from the bus (not an echo). */
export const GS_RX_ECHO_ID = 0xffffffff;

export const GS_CAN_EFF_FLAG = 0x80000000;
export const GS_CAN_RTR_FLAG = 0x40000000;
export const GS_CAN_ERR_FLAG = 0x20000000;

/** Frame flags: the device's receive queue overflowed before this frame. */
export const GS_FRAME_FLAG_OVERFLOW = 0x01;

export const GS_MODE_RESET = 0;
export const GS_MODE_START = 1;
/** gs_device_mode.flags bits (those canflash uses). */
export const GsModeFlag = {
  LISTEN_ONLY: 0x01,
  LOOP_BACK: 0x02,
  TRIPLE_SAMPLE: 0x04,
  ONE_SHOT: 0x08,
  HW_TIMESTAMP: 0x10,
} as const;

/** GET_STATE's state values. */
export const GsState = {
  ERROR_ACTIVE: 0,
  ERROR_WARNING: 1,
  ERROR_PASSIVE: 2,
  BUS_OFF: 3,
  STOPPED: 4,
  SLEEPING: 5,
} as const;

export const GS_FRAME_SIZE = 20;
export const GS_FRAME_SIZE_TS = 24;
export const GS_DEVICE_CONFIG_SIZE = 12;
export const GS_BT_CONST_SIZE = 40;
export const GS_BITTIMING_SIZE = 20;
export const GS_MODE_SIZE = 8;
export const GS_STATE_SIZE = 12;

export interface GsHostFrame {
  echoId: number;
  frame: CanFrame;
  channel: number;
  flags: number;
  /** Hardware timestamp in µs (24-byte frames only). */
  timestampUs?: number;
}

export class GsFrameDecodeError extends Error {}

const u32s = (...values: number[]): Uint8Array => {
  const b = new Uint8Array(values.length * 4);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setUint32(i * 4, x >>> 0, true));
  return b;
};

const readU32s = (b: Uint8Array, n: number, what: string): number[] => {
  if (b.length < n * 4)
    throw new GsFrameDecodeError(`short ${what}: ${b.length} of ${n * 4} bytes`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: n }, (_, i) => v.getUint32(i * 4, true));
};

export function encodeHostFrame(f: GsHostFrame, withTimestamp = false): Uint8Array {
  const b = new Uint8Array(withTimestamp ? GS_FRAME_SIZE_TS : GS_FRAME_SIZE);
  const v = new DataView(b.buffer);
  const fr = f.frame;
  const id =
    (fr.id & (fr.extended ? CAN_EFF_MASK : fr.error ? CAN_EFF_MASK : CAN_SFF_MASK)) |
    (fr.extended ? GS_CAN_EFF_FLAG : 0) |
    (fr.rtr ? GS_CAN_RTR_FLAG : 0) |
    (fr.error ? GS_CAN_ERR_FLAG : 0);
  v.setUint32(0, f.echoId >>> 0, true);
  v.setUint32(4, id >>> 0, true);
  b[8] = fr.dlc;
  b[9] = f.channel;
  b[10] = f.flags;
  if (!fr.rtr) b.set(fr.data, 12);
  if (withTimestamp) v.setUint32(20, (f.timestampUs ?? 0) >>> 0, true);
  return b;
}

/** Decodes one host frame (20 or 24 bytes). Throws GsFrameDecodeError for a short or malformed one. */
export function decodeHostFrame(b: Uint8Array): GsHostFrame {
  if (b.length < GS_FRAME_SIZE)
    throw new GsFrameDecodeError(`short gs_usb frame: ${b.length} bytes`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const echoId = v.getUint32(0, true);
  const raw = v.getUint32(4, true);
  const dlc = b[8]!;
  if (dlc > 8 && !(raw & GS_CAN_ERR_FLAG))
    throw new GsFrameDecodeError(`gs_usb frame with dlc ${dlc}`);
  const extended = (raw & GS_CAN_EFF_FLAG) !== 0;
  const rtr = (raw & GS_CAN_RTR_FLAG) !== 0;
  const error = (raw & GS_CAN_ERR_FLAG) !== 0;
  const id = raw & (extended || error ? CAN_EFF_MASK : CAN_SFF_MASK);
  const len = Math.min(dlc, 8);
  const frame = error
    ? canFrame(id, b.subarray(12, 12 + 8), { error: true })
    : rtr
      ? canFrame(id, [], { extended, rtr: true, dlc: len })
      : canFrame(id, b.subarray(12, 12 + len), { extended });
  const out: GsHostFrame = { echoId, frame, channel: b[9]!, flags: b[10]! };
  if (b.length >= GS_FRAME_SIZE_TS) out.timestampUs = v.getUint32(20, true);
  return out;
}

export interface GsDeviceConfig {
  /** Channels on the device (icount + 1). */
  channels: number;
  swVersion: number;
  hwVersion: number;
}

export function encodeDeviceConfig(c: GsDeviceConfig): Uint8Array {
  const b = u32s(0, c.swVersion, c.hwVersion);
  b[3] = c.channels - 1;
  return b;
}

export function decodeDeviceConfig(b: Uint8Array): GsDeviceConfig {
  const [, sw, hw] = readU32s(b, 3, "DEVICE_CONFIG");
  return { channels: b[3]! + 1, swVersion: sw!, hwVersion: hw! };
}

export interface GsBtConst {
  feature: number;
  fclkCan: number;
  tseg1Min: number;
  tseg1Max: number;
  tseg2Min: number;
  tseg2Max: number;
  sjwMax: number;
  brpMin: number;
  brpMax: number;
  brpInc: number;
}

export function encodeBtConst(c: GsBtConst): Uint8Array {
  return u32s(
    c.feature,
    c.fclkCan,
    c.tseg1Min,
    c.tseg1Max,
    c.tseg2Min,
    c.tseg2Max,
    c.sjwMax,
    c.brpMin,
    c.brpMax,
    c.brpInc,
  );
}

export function decodeBtConst(b: Uint8Array): GsBtConst {
  const [feature, fclkCan, tseg1Min, tseg1Max, tseg2Min, tseg2Max, sjwMax, brpMin, brpMax, brpInc] =
    readU32s(b, 10, "BT_CONST") as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
  return {
    feature,
    fclkCan,
    tseg1Min,
    tseg1Max,
    tseg2Min,
    tseg2Max,
    sjwMax,
    brpMin,
    brpMax,
    brpInc,
  };
}

export interface GsBitTiming {
  propSeg: number;
  phaseSeg1: number;
  phaseSeg2: number;
  sjw: number;
  brp: number;
}

export function encodeBitTiming(t: GsBitTiming): Uint8Array {
  return u32s(t.propSeg, t.phaseSeg1, t.phaseSeg2, t.sjw, t.brp);
}

export function decodeBitTiming(b: Uint8Array): GsBitTiming {
  const [propSeg, phaseSeg1, phaseSeg2, sjw, brp] = readU32s(b, 5, "BITTIMING") as [
    number,
    number,
    number,
    number,
    number,
  ];
  return { propSeg, phaseSeg1, phaseSeg2, sjw, brp };
}

/** The bitrate a timing gives on a controller clocked at `fclk`. */
export const bitrateOf = (t: GsBitTiming, fclk: number): number =>
  fclk / (t.brp * (1 + t.propSeg + t.phaseSeg1 + t.phaseSeg2));

/** The CiA-recommended sample point for classic CAN (87.5 %), in per mille. */
export const SAMPLE_POINT_PERMILLE = 875;

/**
 * A bit timing for `bitrate` within the controller's limits: the smallest
 * prescaler that divides the clock exactly into a legal number of time
 * quanta, with the sample point nearest 87.5 %. Undefined when no exact
 * timing exists (the bitrate cannot be made on this clock).
 */
export function computeBitTiming(c: GsBtConst, bitrate: number): GsBitTiming | undefined {
  let best: { t: GsBitTiming; err: number } | undefined;
  const inc = Math.max(1, c.brpInc);
  for (let brp = Math.max(1, c.brpMin); brp <= c.brpMax; brp += inc) {
    const tq = c.fclkCan / (brp * bitrate);
    if (!Number.isInteger(tq)) continue;
    const segs = tq - 1; // tseg1 + tseg2
    if (segs < c.tseg1Min + c.tseg2Min) break; // larger prescalers only shrink it
    if (segs > c.tseg1Max + c.tseg2Max) continue;
    let tseg2 = Math.round((tq * (1000 - SAMPLE_POINT_PERMILLE)) / 1000);
    tseg2 = Math.min(c.tseg2Max, Math.max(c.tseg2Min, tseg2, segs - c.tseg1Max));
    const tseg1 = segs - tseg2;
    if (tseg1 < c.tseg1Min || tseg1 > c.tseg1Max) continue;
    const err = Math.abs(((tq - tseg2) * 1000) / tq - SAMPLE_POINT_PERMILLE);
    const t: GsBitTiming = {
      propSeg: 1,
      phaseSeg1: tseg1 - 1,
      phaseSeg2: tseg2,
      sjw: Math.max(1, Math.min(c.sjwMax, tseg2)),
      brp,
    };
    if (!best || err < best.err) best = { t, err };
    if (err === 0) break;
  }
  return best?.t;
}

export interface GsMode {
  mode: number;
  flags: number;
}

export const encodeMode = (m: GsMode): Uint8Array => u32s(m.mode, m.flags);
export function decodeMode(b: Uint8Array): GsMode {
  const [mode, flags] = readU32s(b, 2, "MODE") as [number, number];
  return { mode, flags };
}

export interface GsDeviceState {
  state: number;
  rxErrors: number;
  txErrors: number;
}

export const encodeState = (s: GsDeviceState): Uint8Array => u32s(s.state, s.rxErrors, s.txErrors);
export function decodeState(b: Uint8Array): GsDeviceState {
  const [state, rxErrors, txErrors] = readU32s(b, 3, "GET_STATE") as [number, number, number];
  return { state, rxErrors, txErrors };
}

export const encodeHostFormat = (): Uint8Array => u32s(GS_HOST_FORMAT_MAGIC);

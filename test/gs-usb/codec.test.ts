import { describe, expect, it } from "vitest";
import { canFrame } from "../../src/can/frame.js";
import {
  bitrateOf,
  computeBitTiming,
  decodeBtConst,
  decodeDeviceConfig,
  decodeHostFrame,
  decodeState,
  encodeBtConst,
  encodeDeviceConfig,
  encodeHostFrame,
  encodeState,
  GS_RX_ECHO_ID,
  GsFrameDecodeError,
} from "../../src/gs-usb/codec.js";
import { CANDLELIGHT_BT_CONST } from "../../src/sim/usb/gs-usb.js";

/** candleLight on an STM32F072 (48 MHz, bxCAN limits): the adapter model's own constants. */
const BXCAN_48M = CANDLELIGHT_BT_CONST;

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("gs_usb host frame", () => {
  it("lays out a standard frame in 20 bytes: echo id, can id, dlc, channel, flags, reserved, data", () => {
    const b = encodeHostFrame({ echoId: 3, frame: canFrame(0x3f0, [0x00]), channel: 0, flags: 0 });
    expect(b.length).toBe(20);
    expect(hex(b)).toBe("03000000" + "f0030000" + "01000000" + "0000000000000000");
  });

  it("sets EFF and RTR in the top bits of can_id", () => {
    const ext = encodeHostFrame({
      echoId: 0,
      frame: canFrame(0x12345678, [1, 2], { extended: true }),
      channel: 0,
      flags: 0,
    });
    expect(hex(ext.subarray(4, 8))).toBe("78563492"); // 0x92345678 = EFF | id
    const rtr = encodeHostFrame({
      echoId: 0,
      frame: canFrame(0x123, [], { rtr: true, dlc: 4 }),
      channel: 0,
      flags: 0,
    });
    expect(hex(rtr.subarray(4, 9))).toBe("2301004004"); // 0x40000123, dlc 4
  });

  it("decodes what it encodes: standard, extended, remote, every dlc; and error frames", () => {
    const frames = [
      canFrame(0x7ff, [1, 2, 3, 4, 5, 6, 7, 8]),
      canFrame(0x1fffffff, [0xaa], { extended: true }),
      canFrame(0x5, [], { extended: true }),
      canFrame(0x100, [], { rtr: true, dlc: 8 }),
      ...Array.from({ length: 9 }, (_, n) =>
        canFrame(
          0x200 + n,
          Array.from({ length: n }, (_, i) => i),
        ),
      ),
    ];
    for (const frame of frames) {
      const d = decodeHostFrame(encodeHostFrame({ echoId: 7, frame, channel: 0, flags: 0 }));
      expect(d.echoId).toBe(7);
      expect(d.frame).toEqual(frame);
    }
    const err = canFrame(0x40, [0, 0, 0, 0, 0, 0, 0, 0], { error: true }); // CAN_ERR_BUSOFF
    const raw = encodeHostFrame({ echoId: GS_RX_ECHO_ID, frame: err, channel: 0, flags: 0 });
    expect(hex(raw.subarray(4, 8))).toBe("40000020");
    const back = decodeHostFrame(raw);
    expect(back.frame.error).toBe(true);
    expect(back.frame.id).toBe(0x40);
    expect(back.echoId).toBe(GS_RX_ECHO_ID);
  });

  it("reads the hardware timestamp of a 24-byte frame, and ignores padding", () => {
    const b = encodeHostFrame(
      { echoId: 1, frame: canFrame(0x10, [9]), channel: 0, flags: 0, timestampUs: 123456 },
      true,
    );
    expect(b.length).toBe(24);
    expect(decodeHostFrame(b).timestampUs).toBe(123456);
    const padded = new Uint8Array(64);
    padded.set(b.subarray(0, 20));
    expect(decodeHostFrame(padded.subarray(0, 20)).frame).toEqual(canFrame(0x10, [9]));
  });

  it("refuses a short frame and a data frame with dlc > 8", () => {
    expect(() => decodeHostFrame(new Uint8Array(19))).toThrow(GsFrameDecodeError);
    const b = encodeHostFrame({ echoId: 0, frame: canFrame(1, [1]), channel: 0, flags: 0 });
    b[8] = 9;
    expect(() => decodeHostFrame(b)).toThrow(GsFrameDecodeError);
  });
});

describe("gs_usb control structures", () => {
  it("DEVICE_CONFIG carries icount (channels − 1) in byte 3, then sw and hw versions", () => {
    const b = encodeDeviceConfig({ channels: 2, swVersion: 2, hwVersion: 1 });
    expect(hex(b)).toBe("00000001" + "02000000" + "01000000");
    expect(decodeDeviceConfig(b)).toEqual({ channels: 2, swVersion: 2, hwVersion: 1 });
  });

  it("BT_CONST and GET_STATE are u32 little-endian fields", () => {
    const b = encodeBtConst(BXCAN_48M);
    expect(b.length).toBe(40);
    expect(hex(b.subarray(4, 8))).toBe("006cdc02"); // 48 000 000
    expect(decodeBtConst(b)).toEqual(BXCAN_48M);
    expect(decodeState(encodeState({ state: 3, rxErrors: 0, txErrors: 248 }))).toEqual({
      state: 3,
      rxErrors: 0,
      txErrors: 248,
    });
    expect(() => decodeBtConst(new Uint8Array(39))).toThrow(GsFrameDecodeError);
  });
});

describe("bit timing from BT_CONST", () => {
  it.each([1_000_000, 500_000, 250_000, 125_000])(
    "%i bit/s on a 48 MHz bxCAN: exact, sample point 87.5 %%, within the limits",
    (rate) => {
      const t = computeBitTiming(BXCAN_48M, rate)!;
      expect(bitrateOf(t, BXCAN_48M.fclkCan)).toBe(rate);
      const tq = 1 + t.propSeg + t.phaseSeg1 + t.phaseSeg2;
      expect((tq - t.phaseSeg2) / tq).toBe(0.875);
      const tseg1 = t.propSeg + t.phaseSeg1;
      expect(tseg1).toBeGreaterThanOrEqual(BXCAN_48M.tseg1Min);
      expect(tseg1).toBeLessThanOrEqual(BXCAN_48M.tseg1Max);
      expect(t.phaseSeg2).toBeLessThanOrEqual(BXCAN_48M.tseg2Max);
      expect(t.sjw).toBeLessThanOrEqual(BXCAN_48M.sjwMax);
    },
  );

  it("1 Mbit/s on an 80 MHz clock (an FDCAN part) still divides exactly", () => {
    const c = { ...BXCAN_48M, fclkCan: 80_000_000, tseg1Max: 256, tseg2Max: 128, brpMax: 512 };
    const t = computeBitTiming(c, 1_000_000)!;
    expect(bitrateOf(t, c.fclkCan)).toBe(1_000_000);
  });

  it("no timing when the clock cannot make the rate exactly", () => {
    expect(computeBitTiming(BXCAN_48M, 33_333)).toBeUndefined();
    // 1 Mbit/s needs at least 3 quanta per bit: an 2 MHz clock gives only 2.
    expect(computeBitTiming({ ...BXCAN_48M, fclkCan: 2_000_000 }, 1_000_000)).toBeUndefined();
  });
});

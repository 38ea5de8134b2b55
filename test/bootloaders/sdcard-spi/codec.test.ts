// SD SPI framing: command frames with their CRC7 (the spec's own examples),
// the CRC16 of data blocks, parsing as the card sees a frame.
import { describe, expect, it } from "vitest";
import * as sd from "../../../src/bootloaders/sdcard-spi/codec.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("SD command frames", () => {
  it("closes frames with the CRC7 every SD card checks on CMD0 and CMD8", () => {
    expect(hex(sd.commandFrame(0, 0))).toBe("400000000095");
    expect(hex(sd.commandFrame(8, 0x1aa))).toBe("48000001aa87");
    expect(hex(sd.commandFrame(55, 0))).toBe("770000000065");
    expect(hex(sd.commandFrame(41, 0x40000000))).toBe("694000000077");
    expect(hex(sd.commandFrame(58, 0))).toBe("7a00000000fd");
    expect(hex(sd.commandFrame(17, 0))).toBe("510000000055");
  });

  it("CRC7 of the spec's CMD17 and response examples", () => {
    expect(sd.crc7(Uint8Array.from([0x40, 0, 0, 0, 0]))).toBe(0x4a);
    expect(sd.crc7(Uint8Array.from([0x51, 0, 0, 0, 0]))).toBe(0x2a);
    expect(sd.crc7(Uint8Array.from([0x11, 0, 0, 0x09, 0]))).toBe(0x33);
  });

  it("parses a frame back and notices a flipped bit", () => {
    const f = sd.commandFrame(24, 0x12345678);
    expect(sd.parseCommand(f)).toEqual({ cmd: 24, arg: 0x12345678, crcOk: true, framed: true });
    f[3] = f[3]! ^ 0x01;
    expect(sd.parseCommand(f).crcOk).toBe(false);
    expect(sd.parseCommand(Uint8Array.from([0x00, 0, 0, 0, 0, 0])).framed).toBe(false);
  });
});

describe("SD data blocks", () => {
  it("CRC16 is XMODEM: 512 bytes of 0xFF give 0x7FA1", () => {
    expect(sd.crc16(new Uint8Array(512).fill(0xff))).toBe(0x7fa1);
    expect(sd.crc16(new TextEncoder().encode("123456789"))).toBe(0x31c3);
  });

  it("a data packet is the start token, the block and its CRC16 big-endian", () => {
    const p = sd.dataPacket(new Uint8Array(512).fill(0xff));
    expect(p.length).toBe(515);
    expect([p[0], p[513], p[514]]).toEqual([0xfe, 0x7f, 0xa1]);
  });

  it("names R1 bits", () => {
    expect(sd.describeR1(0x05)).toBe("idle, illegal command");
    expect(sd.describeR1(0)).toBe("ready");
  });
});

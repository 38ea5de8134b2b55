// The slcan ASCII codec against the Lawicel command texts (golden strings).
import { describe, expect, it } from "vitest";
import { busStateFromErrorFrame } from "../../../src/can/errorframe.js";
import { canFrame, formatFrame } from "../../../src/can/frame.js";
import {
  bitrateOfBtr,
  decodeFrame,
  decodeStatus,
  encodeFrame,
  errorFrameOfStatus,
  SlcanLineSplitter,
  statusNames,
} from "../../../src/transport/slcan/codec.js";
import { parseSlcanInterface } from "../../../src/transport/slcan/name.js";
import { SlcanInterfaceError } from "../../../src/transport/slcan/errors.js";

describe("slcan frames", () => {
  it("encodes standard, extended and remote frames as Lawicel's t/T/r/R commands", () => {
    expect(encodeFrame(canFrame(0x0a7, []))).toBe("t0A70");
    expect(encodeFrame(canFrame(0x7ff, [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]))).toBe(
      "t7FF81122334455667788",
    );
    expect(encodeFrame(canFrame(0x0c34567f, [1, 2], { extended: true }))).toBe("T0C34567F20102");
    expect(encodeFrame(canFrame(0x100, [], { rtr: true, dlc: 0 }))).toBe("r1000");
    expect(encodeFrame(canFrame(0x1234567f, [], { rtr: true, dlc: 2, extended: true }))).toBe(
      "R1234567F2",
    );
    expect(encodeFrame(canFrame(0x5, [1], { extended: true }))).toBe("T0000000510" + "1");
  });

  it("decodes what it encodes, with or without a 4-digit timestamp, and nothing else", () => {
    for (const f of [
      canFrame(0, []),
      canFrame(0x7ff, [1, 2, 3, 4, 5, 6, 7, 8]),
      canFrame(0x1fffffff, [0xde, 0xad], { extended: true }),
      canFrame(0x123, [], { rtr: true, dlc: 8 }),
      canFrame(0x123, [], { rtr: true, dlc: 3, extended: true }),
    ]) {
      expect(formatFrame(decodeFrame(encodeFrame(f))!)).toBe(formatFrame(f));
      expect(formatFrame(decodeFrame(encodeFrame(f) + "A902")!)).toBe(formatFrame(f));
    }
    for (const bad of [
      "",
      "z",
      "Z",
      "V1013",
      "F00",
      "t12",
      "t1239",
      "t1232AA",
      "t8002AABB",
      "tXYZ0",
      "T2000000010",
    ])
      expect(decodeFrame(bad), bad).toBeUndefined();
  });

  it("splits adapter output at CR and BEL, keeping partial lines", () => {
    const s = new SlcanLineSplitter();
    const enc = (t: string) => new TextEncoder().encode(t);
    expect(s.push(enc("z\rt1230\r\x07V10"))).toEqual([
      { text: "z", refused: false },
      { text: "t1230", refused: false },
      { text: "", refused: true },
    ]);
    expect(s.push(enc("13\r\n"))).toEqual([{ text: "V1013", refused: false }]);
  });
});

describe("slcan status flags", () => {
  it("reads F answers and maps them to a controller error frame and bus state", () => {
    const s = decodeStatus("FA8")!;
    expect(statusNames(s)).toEqual(["data-overrun", "error-passive", "bus-error"]);
    expect(busStateFromErrorFrame(errorFrameOfStatus(s))).toBe("error-passive");
    expect(busStateFromErrorFrame(errorFrameOfStatus(decodeStatus("F04")!))).toBe("error-warning");
    expect(busStateFromErrorFrame(errorFrameOfStatus(decodeStatus("F00")!))).toBe("error-active");
    expect(decodeStatus("F0")).toBeUndefined();
    expect(decodeStatus("")).toBeUndefined();
  });

  it("BTR0/BTR1 at the SJA1000's 8 MHz: 0x001C is 500 kbit/s, 0x0014 1 Mbit/s", () => {
    expect(bitrateOfBtr(0x00, 0x1c)).toBe(500_000);
    expect(bitrateOfBtr(0x00, 0x14)).toBe(1_000_000);
    expect(bitrateOfBtr(0x01, 0x1c)).toBe(250_000);
  });
});

describe("slcan interface names", () => {
  it("takes a port, an optional @tty-baud, bitrate= or btr=", () => {
    expect(parseSlcanInterface("slcan:/dev/ttyACM0")).toEqual({
      path: "/dev/ttyACM0",
      ttyBaud: 115200,
      bitrate: 1_000_000,
      setup: "S8",
    });
    expect(parseSlcanInterface("slcan:COM4@921600,bitrate=500000")).toEqual({
      path: "COM4",
      ttyBaud: 921600,
      bitrate: 500_000,
      setup: "S6",
    });
    expect(parseSlcanInterface("slcan:/dev/ttyUSB0,btr=001c")).toMatchObject({
      bitrate: 500_000,
      setup: "s001C",
    });
  });

  it("refuses what it cannot set, naming the problem", () => {
    const bad: Array<[string, RegExp]> = [
      ["slcan:", /names no serial port/],
      ["slcan:/dev/ttyACM0@fast", /no tty baud rate/],
      ["slcan:/dev/ttyACM0,bitrate=800000", /no slcan S command.*btr=/],
      ["slcan:/dev/ttyACM0,bitrate=500000,btr=001C", /not both/],
      ["slcan:/dev/ttyACM0,btr=1C", /four hex digits/],
      ["slcan:/dev/ttyACM0,speed=1", /unknown option/],
    ];
    for (const [name, why] of bad) {
      expect(() => parseSlcanInterface(name), name).toThrow(SlcanInterfaceError);
      expect(() => parseSlcanInterface(name), name).toThrow(why);
    }
  });
});

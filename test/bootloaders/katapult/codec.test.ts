import { describe, expect, it } from "vitest";
import {
  Cmd,
  completeFrame,
  connectFrame,
  decodeConnect,
  decodeResponse,
  encodeAck,
  encodeConnectData,
  encodeFrame,
  anyHeader,
  FrameParser,
  getCanbusIdFrame,
  KatapultFrameError,
  maxSendableBlockSize,
  PRIME_FRAME,
  PROTO_1_0_0,
  PROTO_1_1_0,
  requestBlockFrame,
  Resp,
  sendBlockFrame,
  sendEofFrame,
} from "../../../src/bootloaders/katapult/codec.js";

const hex = (s: string) =>
  Uint8Array.from(
    s
      .trim()
      .split(/\s+/)
      .map((h) => parseInt(h, 16)),
  );
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

describe("Katapult frames: worked examples from the protocol notes (§11)", () => {
  it("host commands", () => {
    expect(toHex(connectFrame())).toBe("01 88 11 00 f1 7c 99 03");
    expect(toHex(sendEofFrame())).toBe("01 88 13 00 41 4f 99 03");
    expect(toHex(completeFrame())).toBe("01 88 15 00 91 1b 99 03");
    expect(toHex(getCanbusIdFrame())).toBe("01 88 16 00 f9 31 99 03");
    expect(toHex(requestBlockFrame(0x08002000))).toBe("01 88 14 01 00 20 00 08 5b de 99 03");
    expect(toHex(requestBlockFrame(0x10004000))).toBe("01 88 14 01 00 40 00 10 df 47 99 03");
    expect(toHex(encodeFrame(0x90))).toBe(toHex(PRIME_FRAME));
  });

  it("SEND_BLOCK frames", () => {
    const data = Uint8Array.from({ length: 64 }, (_, i) => i);
    const f = sendBlockFrame(0x08002000, data);
    expect(f.length).toBe(76);
    expect(toHex(f.subarray(0, 8))).toBe("01 88 12 11 00 20 00 08");
    expect(toHex(f.subarray(72))).toBe("d2 f3 99 03");
    const tail = new Uint8Array(64).fill(0xff);
    tail.set(hex("a0 a1 a2 a3 a4 a5 a6 a7 a8 a9"));
    expect(toHex(sendBlockFrame(0x08004fc0, tail).subarray(72))).toBe("6d 09 99 03");
  });

  it("device replies", () => {
    expect(toHex(encodeAck(Cmd.SEND_BLOCK, hex("00 20 00 08")))).toBe(
      "01 88 a0 02 12 00 00 00 00 20 00 08 5a d6 99 03",
    );
    expect(toHex(encodeAck(Cmd.SEND_EOF, hex("05 00 00 00")))).toBe(
      "01 88 a0 02 13 00 00 00 05 00 00 00 c1 b6 99 03",
    );
    expect(toHex(encodeAck(Cmd.COMPLETE))).toBe("01 88 a0 01 15 00 00 00 00 2e 99 03");
    expect(toHex(encodeAck(Cmd.GET_CANBUS_ID, hex("11 aa 22 bb 33 cc 00 00")))).toBe(
      "01 88 a0 03 16 00 00 00 11 aa 22 bb 33 cc 00 00 40 ed 99 03",
    );
    const blank = encodeAck(
      Cmd.REQUEST_BLOCK,
      Uint8Array.from([0x00, 0x20, 0x00, 0x08, ...new Array(64).fill(0xff)]),
    );
    expect(blank.length).toBe(80);
    expect(toHex(blank.subarray(76))).toBe("27 72 99 03");
    expect(toHex(encodeFrame(Resp.NACK))).toBe("01 88 f1 00 68 95 99 03");
    expect(toHex(encodeFrame(Resp.COMMAND_ERROR))).toBe("01 88 f2 00 00 bf 99 03");
    expect(toHex(encodeFrame(Resp.BUSY))).toBe("01 88 f3 00 d8 a6 99 03");
  });

  it("CONNECT replies in the 1.1.0 and 1.0.0 layouts", () => {
    const v110 = hex(`01 88 a0 0d 11 00 00 00 00 01 01 00 00 20 00 08
      40 00 00 00 73 74 6d 33 32 66 31 30 33 78 65 00
      00 00 00 00 76 30 2e 30 2e 31 2d 31 31 30 2d 67
      31 32 33 34 61 62 63 00 8f a1 99 03`);
    const built = encodeAck(
      Cmd.CONNECT,
      encodeConnectData({
        protocolVersion: PROTO_1_1_0,
        appStart: 0x08002000,
        blockSize: 64,
        mcu: "stm32f103xe",
        softwareVersion: "v0.0.1-110-g1234abc",
      }),
    );
    expect(toHex(built)).toBe(toHex(v110));
    const [frame] = new FrameParser().push(v110);
    const r = decodeResponse(frame!);
    expect(r.kind).toBe("ack");
    const info = decodeConnect((r as { data: Uint8Array }).data);
    expect(info).toEqual({
      protocolVersion: PROTO_1_1_0,
      protocol: "1.1.0",
      appStart: 0x08002000,
      blockSize: 64,
      mcu: "stm32f103xe",
      softwareVersion: "v0.0.1-110-g1234abc",
    });

    const v100 = hex(
      "01 88 a0 07 11 00 00 00 00 00 01 00 00 20 00 08 40 00 00 00 73 74 6d 33 32 66 31 30 33 78 65 00 90 92 99 03",
    );
    expect(
      toHex(
        encodeAck(
          Cmd.CONNECT,
          encodeConnectData({
            protocolVersion: PROTO_1_0_0,
            appStart: 0x08002000,
            blockSize: 64,
            mcu: "stm32f103xe",
          }),
        ),
      ),
    ).toBe(toHex(v100));
    const old = decodeConnect(
      decodeResponse(new FrameParser().push(v100)[0]!).kind === "ack"
        ? new FrameParser().push(v100)[0]!.payload.slice(4)
        : new Uint8Array(),
    );
    expect(old).toMatchObject({
      protocol: "1.0.0",
      mcu: "stm32f103xe",
      softwareVersion: undefined,
    });
  });

  it("decodes an MCU name that fills its words exactly (no NUL in 1.0.0)", () => {
    const data = encodeConnectData({
      protocolVersion: PROTO_1_0_0,
      appStart: 0x10004000,
      blockSize: 64,
      mcu: "rp2040xx",
    });
    expect(decodeConnect(data).mcu).toBe("rp2040xx");
    const empty = encodeConnectData({
      protocolVersion: PROTO_1_1_0,
      appStart: 0,
      blockSize: 64,
      mcu: "lpc1769",
      softwareVersion: "",
    });
    expect(decodeConnect(empty)).toMatchObject({ mcu: "lpc1769", softwareVersion: undefined });
  });
});

describe("frame limits", () => {
  it("refuses frames over 128 bytes and partial words", () => {
    expect(maxSendableBlockSize()).toBe(116);
    expect(() => sendBlockFrame(0, new Uint8Array(128))).toThrow(KatapultFrameError);
    expect(() => encodeFrame(0x12, new Uint8Array(3))).toThrow(/whole 4-byte words/);
    expect(encodeFrame(0x12, new Uint8Array(120)).length).toBe(128);
  });
});

describe("FrameParser", () => {
  const frames = [
    encodeAck(Cmd.CONNECT, new Uint8Array(40)),
    encodeFrame(Resp.NACK),
    encodeAck(Cmd.SEND_BLOCK, hex("00 20 00 08")),
  ];
  const stream = Uint8Array.from(frames.flatMap((f) => [...f]));

  it("reassembles frames split anywhere, keeping surplus for the next", () => {
    for (let chunk = 1; chunk <= stream.length; chunk++) {
      const p = new FrameParser();
      const got: number[] = [];
      for (let i = 0; i < stream.length; i += chunk)
        got.push(...p.push(stream.subarray(i, i + chunk)).map((f) => f.code));
      expect(got).toEqual([0xa0, 0xf1, 0xa0]);
      expect(p.pending).toBe(0);
    }
  });

  it("skips garbage and frames with a bad CRC or trailer, then resynchronises", () => {
    const bad = encodeAck(Cmd.SEND_EOF, hex("01 00 00 00"));
    bad[bad.length - 4] = bad[bad.length - 4]! ^ 0xff;
    const cut = encodeAck(Cmd.CONNECT, new Uint8Array(8)).subarray(0, 10);
    const input = Uint8Array.from([0x55, 0x01, 0x01, 0x88, ...bad, ...cut, ...frames[2]!]);
    const p = new FrameParser();
    const out = p.push(input);
    expect(out.map((f) => decodeResponse(f))).toEqual([
      { kind: "ack", command: Cmd.SEND_BLOCK, data: hex("00 20 00 08") },
    ]);
    expect(p.badFrames).toBeGreaterThan(0);
  });

  it("does not stall on a stray header claiming a long frame", () => {
    const p = new FrameParser();
    expect(
      p.push(Uint8Array.from([0x01, 0x88, 0x01, 0x88, ...frames[1]!])).map((f) => f.code),
    ).toEqual([0xf1]);
    expect(
      p.push(Uint8Array.from([0x01, 0x88, 0xf2, 0x05, ...frames[1]!])).map((f) => f.code),
    ).toEqual([0xf1]);
  });

  it("classifies replies (any header when asked)", () => {
    const [nack, err, busy, odd] = new FrameParser(anyHeader).push(
      Uint8Array.from([
        ...encodeFrame(Resp.NACK),
        ...encodeFrame(Resp.COMMAND_ERROR),
        ...encodeFrame(Resp.BUSY),
        ...encodeFrame(0x42),
      ]),
    );
    expect(decodeResponse(nack!)).toEqual({ kind: "nack" });
    expect(decodeResponse(err!)).toEqual({ kind: "error" });
    expect(decodeResponse(busy!)).toEqual({ kind: "busy" });
    expect(decodeResponse(odd!)).toEqual({ kind: "unknown", code: 0x42 });
  });
});

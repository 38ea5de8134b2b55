import { describe, expect, it } from "vitest";
import {
  BlockReader,
  decodeParams,
  encodeBlock,
  encodeMessage,
  findIdentifyResponses,
  IDENTIFY_RESPONSE,
  identifyRequest,
  parseFormat,
} from "../../src/klippy-bridge/msgproto.js";
import { decodeVlq, encodeVlq, VlqError } from "../../src/klippy-bridge/vlq.js";

const hex = (s: string) =>
  Uint8Array.from(
    s
      .trim()
      .split(/\s+/)
      .map((h) => parseInt(h, 16)),
  );
const toHex = (b: ArrayLike<number>) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");

describe("VLQ (klipper-can.md §6 table)", () => {
  const table: Array<[number, string]> = [
    [0, "00"],
    [1, "01"],
    [40, "28"],
    [95, "5f"],
    [96, "80 60"],
    [127, "80 7f"],
    [200, "81 48"],
    [-1, "7f"],
    [-32, "60"],
    [-33, "ff 5f"],
    [4095, "9f 7f"],
    [12288, "80 e0 00"],
    [-4096, "e0 00"],
    [1000000, "bd 84 40"],
    [0xffffffff, "8f ff ff ff 7f"],
  ];
  it.each(table)("%d ⇄ %s", (v, bytes) => {
    expect(toHex(encodeVlq(v))).toBe(bytes);
    const d = decodeVlq(hex(bytes), 0);
    expect(d.value).toBe(v | 0);
    expect(d.next).toBe(hex(bytes).length);
  });

  it("uses 1–5 bytes at the documented boundaries", () => {
    for (const [lo, hi, n] of [
      [-32, 95, 1],
      [-4096, 12287, 2],
      [-524288, 1572863, 3],
      [-67108864, 201326591, 4],
    ] as const) {
      expect(encodeVlq(lo)).toHaveLength(n);
      expect(encodeVlq(hi)).toHaveLength(n);
      expect(encodeVlq(lo - 1)).toHaveLength(n + 1);
      expect(encodeVlq(hi + 1)).toHaveLength(n + 1);
    }
  });

  it("round-trips random 32-bit values and refuses cut or endless integers", () => {
    for (let i = 0; i < 2000; i++) {
      const v = ((i * 2654435761) >>> 0) - (i % 2 ? 0x80000000 : 0);
      expect(decodeVlq(Uint8Array.from(encodeVlq(v)), 0).value).toBe(v | 0);
    }
    expect(() => decodeVlq(hex("81"), 0)).toThrow(VlqError);
    expect(() => decodeVlq(hex("81 81 81 81 81 01"), 0)).toThrow(/longer than 5/);
    expect(() => encodeVlq(2 ** 33)).toThrow(VlqError);
  });
});

describe("message blocks (klipper-can.md §7 examples)", () => {
  const examples: Array<[number, number, number, string]> = [
    [0, 0, 40, "08 10 01 00 28 5e 9f 7e"],
    [1, 40, 40, "08 11 01 28 28 af d7 7e"],
    [5, 200, 40, "09 15 01 81 48 28 d0 70 7e"],
    [2, 12288, 40, "0a 12 01 80 e0 00 28 52 ff 7e"],
  ];
  it.each(examples)("identify seq %d offset %d count %d", (seq, offset, count, bytes) => {
    expect(toHex(encodeBlock(seq, identifyRequest(offset, count)))).toBe(bytes);
  });

  it("the ACK after a seq-0 block and identify_response blocks", () => {
    expect(toHex(encodeBlock(1, new Uint8Array()))).toBe("05 11 8f 08 7e");
    const data8 = hex("78 da 9d 5a 5b 73 db 36");
    const r8 = encodeBlock(1, encodeMessage(0, IDENTIFY_RESPONSE, { offset: 0, data: data8 }));
    expect(toHex(r8)).toBe("10 11 00 00 08 78 da 9d 5a 5b 73 db 36 e3 5d 7e");
    const data40 = Uint8Array.from({ length: 40 }, (_, i) => i);
    const r40 = encodeBlock(1, encodeMessage(0, IDENTIFY_RESPONSE, { offset: 0, data: data40 }));
    expect(toHex(r40.subarray(0, 5))).toBe("30 11 00 00 28");
    expect(toHex(r40.subarray(-3))).toBe("7e 44 7e"); // the CRC's high byte is 0x7e
    const [block] = new BlockReader().push(r40);
    expect(findIdentifyResponses(block!.content)).toEqual([{ offset: 0, data: data40 }]);
  });

  it("reassembles blocks fed a byte at a time, including one whose CRC contains 0x7e", () => {
    const blocks = [
      encodeBlock(1, new Uint8Array()),
      encodeBlock(
        1,
        encodeMessage(0, IDENTIFY_RESPONSE, {
          offset: 0,
          data: Uint8Array.from({ length: 40 }, (_, i) => i),
        }),
      ),
      encodeBlock(2, identifyRequest(40)),
    ];
    const stream = Uint8Array.from(blocks.flatMap((b) => [...b]));
    const r = new BlockReader();
    const got = [];
    for (const b of stream) got.push(...r.push(Uint8Array.of(b)));
    expect(got.map((b) => b.seq)).toEqual([1, 1, 2]);
  });

  it("resynchronises after garbage, a bad CRC, a bad sequence nibble and a bad length", () => {
    const good = encodeBlock(3, identifyRequest(0));
    const badCrc = encodeBlock(3, identifyRequest(0));
    badCrc[5]! ^= 0xff;
    const badSeq = Uint8Array.from(good);
    badSeq[1] = 0x23;
    const stream = Uint8Array.from([
      0x7e,
      0x7e,
      0x99,
      0x01,
      0x7e,
      ...badCrc,
      ...badSeq,
      0x02,
      0x7e,
      ...good,
    ]);
    const r = new BlockReader();
    const got = r.push(stream);
    expect(got).toHaveLength(1);
    expect(got[0]!.seq).toBe(3);
    expect(r.bad).toBeGreaterThanOrEqual(2);
  });

  it("parses format strings and decodes parameters with bounds checks", () => {
    const f = parseFormat("canbus_id canbus_uuid=%.*s canbus_nodeid=%u");
    expect(f.params).toEqual([
      { name: "canbus_uuid", type: "buffer" },
      { name: "canbus_nodeid", type: "int" },
    ]);
    const m = encodeMessage(57, f, { canbus_uuid: hex("82 66 c4 63 64 29"), canbus_nodeid: 4 });
    expect(decodeParams(m, 1, f).params).toEqual({
      canbus_uuid: hex("82 66 c4 63 64 29"),
      canbus_nodeid: 4,
    });
    expect(() => decodeParams(hex("39 06 82 66"), 1, f)).toThrow(/claims 6 bytes/);
    expect(() => parseFormat("foo bar=%z")).toThrow(/unsupported parameter/);
    expect(() => encodeBlock(0, new Uint8Array(60))).toThrow(/64-byte limit/);
  });
});

import { describe, expect, it } from "vitest";
import { crc16Mcrf4xx } from "../../src/util/crc16.js";

const bytes = (hex: string) => Uint8Array.from(hex.split(" ").map((h) => parseInt(h, 16)));

describe("CRC-16/MCRF4XX", () => {
  it("matches the catalogue check value and the protocol notes", () => {
    expect(crc16Mcrf4xx(new TextEncoder().encode("123456789"))).toBe(0x6f91);
    expect(crc16Mcrf4xx(new Uint8Array())).toBe(0xffff);
    expect(crc16Mcrf4xx(bytes("11 00"))).toBe(0x7cf1); // Katapult CONNECT
    expect(crc16Mcrf4xx(bytes("f1 00"))).toBe(0x9568); // Katapult NACK
  });

  it("agrees with a bitwise implementation on arbitrary data", () => {
    const ref = (d: Uint8Array) => {
      let crc = 0xffff;
      for (const b of d) {
        crc ^= b;
        for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
      }
      return crc;
    };
    for (let n = 0; n < 200; n++) {
      const d = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n * 7) & 0xff);
      expect(crc16Mcrf4xx(d)).toBe(ref(d));
    }
  });
});

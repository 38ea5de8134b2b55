import { describe, expect, it } from "vitest";
import {
  CANBUS_UUID_SEED,
  fasthash64,
  InvalidUuidError,
  parseUuid,
  uuidBytes,
  uuidFromBytes,
  uuidFromUsbSerial,
} from "../../src/klippy-bridge/uuid.js";

describe("CAN UUIDs", () => {
  it("parse as users type them and print with leading zeros", () => {
    expect(parseUuid("AABBCCDDEEFF")).toBe("aabbccddeeff");
    expect(parseUuid(" 00:11:22:33:44:55 ")).toBe("001122334455");
    expect(uuidFromBytes([0, 1, 2, 3, 4, 5])).toBe("000102030405");
    expect([...uuidBytes(parseUuid("8266c4636429"))]).toEqual([0x82, 0x66, 0xc4, 0x63, 0x64, 0x29]);
  });

  it("reject anything that is not 6 bytes of hex, naming the expected form", () => {
    for (const bad of ["", "aabbccddee", "aabbccddeeff00", "zzbbccddeeff", "aabbccddeef"]) {
      expect(() => parseUuid(bad)).toThrow(InvalidUuidError);
    }
    expect(() => parseUuid("xyz")).toThrow(/expected 12 hex digits/);
  });

  it("derive from USB serials exactly as the protocol notes' worked examples", () => {
    expect(
      fasthash64(Uint8Array.from(Buffer.from("112233445566778899AABBCC", "hex")), CANBUS_UUID_SEED),
    ).toBe(0xe7a7296463c46682n);
    expect(uuidFromUsbSerial("112233445566778899AABBCC")).toBe("8266c4636429");
    expect(uuidFromUsbSerial("E66038B7133A5E2F")).toBe("625720a262c6");
    expect(uuidFromUsbSerial("0102030405060708090A0B0C0D0E0F10")).toBe("ef00c3c43f24");
    expect(uuidFromUsbSerial("e66038b7133a5e2f")).toBe("625720a262c6");
  });

  it("give no UUID for serials that are not a chip id", () => {
    expect(uuidFromUsbSerial("12345G")).toBeUndefined();
    expect(uuidFromUsbSerial("ABC")).toBeUndefined();
    expect(uuidFromUsbSerial("")).toBeUndefined();
  });
});

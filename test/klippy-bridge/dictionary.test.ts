import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  buildTransport,
  DictionaryError,
  findImageDictionary,
  parseDictionary,
} from "../../src/klippy-bridge/dictionary.js";
import {
  klipperDictionaryJson,
  klipperDictionaryZlib,
  klipperImage,
} from "../../src/sim/klipper-image.js";
import { randomBytes } from "../../src/util/random.js";

describe("Klipper data dictionary", () => {
  it("parses a real-shaped dictionary (zlib level 9, sorted compact JSON)", () => {
    const z = klipperDictionaryZlib({
      mcu: "stm32g0b1xx",
      version: "v0.12.0-1-gabc",
      transport: "can",
      canbusFrequency: 500000,
    });
    expect([z[0], z[1]]).toEqual([0x78, 0xda]);
    const d = parseDictionary(z);
    expect(d).toMatchObject({
      app: "Klipper",
      version: "v0.12.0-1-gabc",
      mcu: "stm32g0b1xx",
      transport: "can",
      canbusFrequency: 500000,
      receiveWindow: 192,
    });
    expect(d.commands["identify offset=%u count=%c"]).toBe(1);
    expect(d.responses["identify_response offset=%u data=%.*s"]).toBe(0);
    expect(klipperDictionaryJson({ mcu: "x", transport: "usb" })).toMatch(
      /^\{"app":"Klipper","build_versions":/,
    );
  });

  it("tells the build's transport from its constants", () => {
    const t = (o: Parameters<typeof klipperDictionaryZlib>[0]) =>
      parseDictionary(klipperDictionaryZlib(o)).transport;
    expect(t({ mcu: "stm32g0b1xx", transport: "can" })).toBe("can");
    expect(t({ mcu: "stm32g0b1xx", transport: "usb-can-bridge" })).toBe("usb-can-bridge");
    expect(t({ mcu: "stm32f446xx", transport: "serial" })).toBe("serial");
    expect(t({ mcu: "stm32f446xx", transport: "usb" })).toBe("usb");
    expect(buildTransport({ MCU: "rp2040" })).toBe("unknown");
    expect(buildTransport({ CANBUS_BRIDGE: "1", CANBUS_FREQUENCY: 1000000 })).toBe(
      "usb-can-bridge",
    );
  });

  it("refuses bad zlib, non-JSON and non-dictionary JSON with typed errors", () => {
    expect(() => parseDictionary(Uint8Array.of(0x78, 0xda, 1, 2, 3))).toThrow(DictionaryError);
    expect(() => parseDictionary(new TextEncoder().encode("not json"))).toThrow(/not JSON/);
    expect(() => parseDictionary(new TextEncoder().encode('{"version":"x"}'))).toThrow(/lacks app/);
    const bomb = new Uint8Array(deflateSync(Buffer.alloc(8 * 1024 * 1024, 0x20)));
    expect(() => parseDictionary(bomb)).toThrow(/does not inflate/);
  });

  it("finds the dictionary inside a klipper.bin, past decoy 78 da bytes; none in random data", () => {
    const img = klipperImage({
      mcu: "stm32g0b1xx",
      transport: "can",
      appStart: 0x08002000,
      size: 32 * 1024,
      seed: 3,
    });
    img.set([0x78, 0xda, 0x01, 0x02], 0x100); // a decoy zlib header
    const found = findImageDictionary(img)!;
    expect(found.dictionary.mcu).toBe("stm32g0b1xx");
    expect(found.offset).toBeGreaterThan(0x400);
    expect(findImageDictionary(randomBytes(64 * 1024, 9))).toBeUndefined();
    expect(
      findImageDictionary(
        klipperImage({ mcu: "x", transport: "can", appStart: 0, noDictionary: true }),
      ),
    ).toBeUndefined();
  });

  it("scans a 512 KiB binary full of 78 da candidates without error", () => {
    const big = randomBytes(512 * 1024, 11);
    for (let i = 0; i < big.length; i += 97) big.set([0x78, 0xda], i);
    expect(findImageDictionary(big)).toBeUndefined();
  });
});

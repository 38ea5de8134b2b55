// Pre-flight checks on real-shaped Klipper images: the dictionary found in
// the image decides the MCU, transport and CAN bitrate checks; the vector
// table decides the bootloader-offset check.
import { describe, expect, it } from "vitest";
import { explain } from "../../src/cli/hints/index.js";
import type { DeviceInfo } from "../../src/flash-api/adapter.js";
import type { FlashGeometry } from "../../src/flash-api/geometry.js";
import { planFlash } from "../../src/flasher/plan.js";
import {
  checkCanLink,
  checkDevice,
  checkImageForTarget,
  imageDictionary,
  ImageBitrateMismatchError,
  ImageMcuMismatchError,
  ImageOffsetMismatchError,
  ImageTransportError,
} from "../../src/flasher/preflight.js";
import { klipperImage, type KlipperImageOptions } from "../../src/sim/klipper-image.js";
import { randomBytes } from "../../src/util/random.js";

const APP = 0x08002000;
const geometry: FlashGeometry = { start: APP, blockSize: 64, padByte: 0xff, addressUnit: "byte" };
const device = (mcu?: string): DeviceInfo => ({
  geometry,
  description: `Katapult on ${mcu ?? "?"}`,
  ...(mcu ? { mcu } : {}),
});

function build(o: Partial<KlipperImageOptions> = {}) {
  const bytes = klipperImage({ mcu: "stm32g0b1xx", transport: "can", appStart: APP, ...o });
  const input = { segments: [{ address: APP, data: bytes }] };
  return { bytes, dict: imageDictionary(input), plan: planFlash(input, geometry) };
}

function thrown(f: () => void): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The CLI's wording of the fix (the error itself carries only facts). */
const hint = (e: unknown): string => explain(e, { iface: "can0" }).next.join("\n");

describe("imageDictionary", () => {
  it("finds the build's MCU, version, transport and CAN bitrate", () => {
    const { dict } = build({ version: "v0.12.0-500-gabc", canbusFrequency: 500000 });
    expect(dict).toMatchObject({
      app: "Klipper",
      mcu: "stm32g0b1xx",
      version: "v0.12.0-500-gabc",
      transport: "can",
      canbusFrequency: 500000,
    });
  });

  it("tells a USB-to-CAN bridge build, a USB build and a UART build apart", () => {
    expect(build({ transport: "usb-can-bridge" }).dict?.transport).toBe("usb-can-bridge");
    expect(build({ transport: "usb" }).dict?.transport).toBe("usb");
    expect(build({ transport: "serial" }).dict?.transport).toBe("serial");
  });

  it("is undefined for an image without a dictionary (not a Klipper build)", () => {
    expect(build({ noDictionary: true }).dict).toBeUndefined();
    expect(
      imageDictionary({ segments: [{ address: 0, data: randomBytes(4096, 3) }] }),
    ).toBeUndefined();
  });
});

describe("checkCanLink", () => {
  it("passes a CAN build at the interface's bitrate, and a bridge build", () => {
    expect(() =>
      checkCanLink(build().dict, { iface: "can0", interfaceBitrate: 1_000_000 }),
    ).not.toThrow();
    expect(() =>
      checkCanLink(build({ transport: "usb-can-bridge" }).dict, {
        iface: "can0",
        interfaceBitrate: 1_000_000,
      }),
    ).not.toThrow();
  });

  it("refuses a build for another bitrate, naming both and the fix; --force overrides", () => {
    const { dict } = build({ canbusFrequency: 500000 });
    const e = thrown(() => checkCanLink(dict, { iface: "can0", interfaceBitrate: 1_000_000 }));
    expect(e).toBeInstanceOf(ImageBitrateMismatchError);
    const b = e as ImageBitrateMismatchError;
    expect(b).toMatchObject({
      code: "PREFLIGHT_BITRATE",
      imageBitrate: 500000,
      interfaceBitrate: 1_000_000,
      overridable: true,
    });
    expect(b.message).toContain("500000");
    expect(b.message).toContain("can0");
    expect(hint(b)).toMatch(/CAN bus speed 1000000/);
    expect(() =>
      checkCanLink(dict, { iface: "can0", interfaceBitrate: 1_000_000, force: true }),
    ).not.toThrow();
  });

  it("skips the bitrate check when the interface's bitrate is unknown", () => {
    expect(() =>
      checkCanLink(build({ canbusFrequency: 500000 }).dict, {
        iface: "can0",
        interfaceBitrate: undefined,
      }),
    ).not.toThrow();
  });

  it("refuses a USB or UART build over CAN", () => {
    for (const transport of ["usb", "serial"] as const) {
      const e = thrown(() =>
        checkCanLink(build({ transport }).dict, { iface: "can0", interfaceBitrate: 1_000_000 }),
      );
      expect(e).toBeInstanceOf(ImageTransportError);
      expect((e as ImageTransportError).transport).toBe(transport);
      expect(hint(e)).toMatch(/Communication interface/);
    }
  });

  it("has nothing to check without a dictionary", () => {
    expect(() =>
      checkCanLink(undefined, { iface: "can0", interfaceBitrate: 1_000_000 }),
    ).not.toThrow();
  });
});

describe("checkDevice", () => {
  it("passes the right MCU and offset", () => {
    const { dict, plan } = build();
    expect(() => checkDevice(dict, plan, device("stm32g0b1xx"))).not.toThrow();
  });

  it("refuses an image for another MCU, and it is not overridable", () => {
    const { dict, plan } = build({ mcu: "stm32f103xe" });
    const e = thrown(() => checkDevice(dict, plan, device("stm32g0b1xx")));
    expect(e).toBeInstanceOf(ImageMcuMismatchError);
    expect(e).toMatchObject({
      imageMcu: "stm32f103xe",
      deviceMcu: "stm32g0b1xx",
      overridable: false,
    });
    expect(hint(e)).toMatch(/Processor model/);
  });

  it("refuses an image linked for another bootloader offset", () => {
    const { dict, plan } = build({ linkedFor: 0x08000000 });
    const e = thrown(() => checkDevice(dict, plan, device("stm32g0b1xx")));
    expect(e).toBeInstanceOf(ImageOffsetMismatchError);
    expect(e).toMatchObject({ code: "PREFLIGHT_OFFSET", appStart: APP, overridable: false });
    expect(e).toMatchObject({ bootloaderOffset: 0x2000 });
    expect(hint(e)).toContain("Bootloader offset 0x2000");
  });

  it("checks the offset even without a dictionary when the board reports a Cortex-M part", () => {
    const { plan } = build({ linkedFor: 0x08010000, noDictionary: true });
    expect(() => checkDevice(undefined, plan, device("stm32f446xx"))).toThrow(
      ImageOffsetMismatchError,
    );
  });

  it("refuses a file with neither a vector table nor a Klipper dictionary (random bytes), not a Klipper build", () => {
    const data = randomBytes(4096, 9);
    data.fill(0, 0, 8);
    const plan = planFlash({ segments: [{ address: APP, data }] }, geometry);
    expect(thrown(() => checkDevice(undefined, plan, device("stm32g0b1xx")))).toMatchObject({
      code: "PREFLIGHT_NOT_AN_IMAGE",
      start: APP,
      overridable: false,
    });
    // With a dictionary it is a Klipper build: its other checks decide.
    expect(() => checkDevice(build().dict, plan, device("stm32g0b1xx"))).not.toThrow();
  });

  it("refuses a UF2 of another chip family", () => {
    const { dict, plan } = build();
    expect(
      thrown(() => checkDevice(dict, plan, device("stm32g0b1xx"), { uf2FamilyId: 0xe48bff56 })),
    ).toMatchObject({ code: "PREFLIGHT_UF2_FAMILY", family: 0xe48bff56, mcu: "stm32g0b1xx" });
    expect(() =>
      checkDevice(dict, plan, device("stm32g0b1xx"), { uf2FamilyId: 0x300f5633 }),
    ).not.toThrow();
  });

  it("does not judge AVR images by Cortex-M vectors", () => {
    const { plan } = build({ linkedFor: 0x08000000, noDictionary: true });
    expect(() => checkDevice(undefined, plan, device("atmega2560"))).not.toThrow();
  });
});

describe("checkImageForTarget (before anything is sent)", () => {
  const row = { id: "avr-m328p-optiboot", mcu: ["atmega328p"], appStart: 0, appEnd: 0x7e00 };
  const file = (o: { mcu?: string; size: number; at?: number }) => ({
    dictionary: o.mcu ? ({ mcu: o.mcu } as never) : undefined,
    bytes: new Uint8Array(o.size),
    parsed:
      o.at === undefined
        ? undefined
        : { segments: [{ address: o.at, data: new Uint8Array(o.size) }] },
  });

  it("refuses an image for another MCU than the row's", () => {
    const e = thrown(() => checkImageForTarget(file({ mcu: "atmega2560", size: 100 }), row));
    expect(e).toMatchObject({
      code: "PREFLIGHT_TARGET_MCU",
      imageMcu: "atmega2560",
      targetMcus: ["atmega328p"],
      overridable: false,
    });
  });

  it("refuses a .bin larger than the application area, and a HEX outside it", () => {
    expect(() => checkImageForTarget(file({ size: 0x7e00 }), row)).not.toThrow();
    expect(thrown(() => checkImageForTarget(file({ size: 0x7e01 }), row))).toMatchObject({
      code: "IMAGE_DOES_NOT_FIT",
      imageEnd: 0x7e01,
      end: 0x7e00,
    });
    expect(thrown(() => checkImageForTarget(file({ size: 16, at: 0x7e00 }), row))).toMatchObject({
      code: "IMAGE_DOES_NOT_FIT",
    });
    const k = { id: "k", mcu: ["stm32f103xe"], appStart: 0x08002000, appEnd: 0x08010000 };
    expect(thrown(() => checkImageForTarget(file({ size: 16, at: 0x08000000 }), k))).toMatchObject({
      code: "IMAGE_BELOW_APP_START",
    });
  });

  it("checks nothing for rows of any MCU or without an application area", () => {
    const any = { id: "katapult", mcu: ["*"] };
    expect(() => checkImageForTarget(file({ mcu: "rp2040", size: 1 << 20 }), any)).not.toThrow();
  });
});

describe("checkCanLink and the USB-to-CAN bridge", () => {
  it("refuses a bridge build for a plain node and a plain build for the bridge; --force overrides", () => {
    const bridge = build({ transport: "usb-can-bridge" }).dict;
    const plain = build({ transport: "can" }).dict;
    const o = { iface: "can0", interfaceBitrate: 1_000_000 };
    expect(thrown(() => checkCanLink(bridge, { ...o, isBridge: false }))).toMatchObject({
      code: "PREFLIGHT_BRIDGE",
      imageIsBridge: true,
      overridable: true,
    });
    expect(thrown(() => checkCanLink(plain, { ...o, isBridge: true }))).toMatchObject({
      code: "PREFLIGHT_BRIDGE",
      imageIsBridge: false,
    });
    expect(() => checkCanLink(bridge, { ...o, isBridge: true })).not.toThrow();
    expect(() => checkCanLink(plain, { ...o, isBridge: false })).not.toThrow();
    expect(() => checkCanLink(bridge, { ...o, isBridge: false, force: true })).not.toThrow();
  });
});

// Pre-flight checks: is this image right for this board and this link?
// Run before anything is written — the link checks before any frame is
// sent, the device checks after CONNECT — each a typed error with its facts (the CLI words the fix).
//
// The link checks (CAN bitrate, build transport) are `overridable`: a caller
// may skip them on purpose (the CLI's --force).
// The notes name no check as safe to skip; these two change how the board
// talks, not whether its code can run, and Katapult stays resident below
// the application (katapult.md §4, §6), so a double reset undoes them. A
// wrong MCU, a wrong bootloader offset or an image that does not fit cannot
// run at all: never overridable.

import { checkDfuSuffix, type DfuSuffix } from "./image/dfu-suffix.js";
import type { DeviceInfo } from "../flash-api/adapter.js";
import type { FlashPlan, PlanInput } from "../flash-api/geometry.js";
import { findImageDictionary, type KlipperDictionary } from "../klippy-bridge/dictionary.js";
import { mcuFlash } from "../targets/index.js";
import { CanflashError, type ErrorCode } from "../util/errors.js";
import { ImageBelowStartError, ImageDoesNotFitError } from "./plan.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    PREFLIGHT_TARGET_MCU: true;
    PREFLIGHT_BRIDGE: true;
    PREFLIGHT_UF2_FAMILY: true;
    PREFLIGHT_NOT_AN_IMAGE: true;
    PREFLIGHT_BITRATE: true;
    PREFLIGHT_MCU: true;
    PREFLIGHT_OFFSET: true;
    PREFLIGHT_TRANSPORT: true;
  }
}

const hex = (a: number) => `0x${a.toString(16)}`;

export class PreflightError extends CanflashError {
  constructor(
    code: ErrorCode,
    message: string,
    /** The caller may skip this check on purpose (it changes how the board talks, not whether it runs). */
    readonly overridable: boolean,
  ) {
    super(code, message);
  }
}

export class ImageMcuMismatchError extends PreflightError {
  constructor(
    readonly imageMcu: string,
    readonly deviceMcu: string,
  ) {
    super(
      "PREFLIGHT_MCU",
      `the image is built for ${imageMcu}, but the bootloader runs on ${deviceMcu}`,
      false,
    );
  }
}

export class ImageBitrateMismatchError extends PreflightError {
  constructor(
    readonly imageBitrate: number,
    readonly interfaceBitrate: number,
    readonly iface: string,
  ) {
    super(
      "PREFLIGHT_BITRATE",
      `the image talks CAN at ${imageBitrate} bit/s, but ${iface} runs at ${interfaceBitrate} bit/s: the board would fall off the bus`,
      true,
    );
  }
}

export class ImageTransportError extends PreflightError {
  constructor(readonly transport: string) {
    super(
      "PREFLIGHT_TRANSPORT",
      `the image is a ${transport === "unknown" ? "non-CAN" : transport.toUpperCase()} build: after flashing over CAN the board would no longer talk CAN`,
      true,
    );
  }
}

/** A USB-to-CAN bridge build for a plain CAN node, or a plain CAN build for the bridge. */
export class ImageBridgeMismatchError extends PreflightError {
  constructor(
    /** The image is a bridge build (and the node is not the bridge). */
    readonly imageIsBridge: boolean,
    readonly iface: string,
  ) {
    super(
      "PREFLIGHT_BRIDGE",
      imageIsBridge
        ? `the image is a USB-to-CAN bridge build, but the board is a CAN node on ${iface}, not the bridge: it would leave the bus`
        : `the board is the USB-to-CAN bridge behind ${iface}, but the image is a plain CAN build: ${iface} would go away with every node behind it`,
      true,
    );
  }
}

export class ImageOffsetMismatchError extends PreflightError {
  /** The offset the image should have been built with (appStart less the flash base). */
  readonly bootloaderOffset: number;

  constructor(
    readonly resetVector: number,
    readonly appStart: number,
    readonly imageEnd: number,
  ) {
    super(
      "PREFLIGHT_OFFSET",
      `the image's reset handler is at ${hex(resetVector)}, outside ${hex(appStart)}..${hex(imageEnd)}: it was built for a different bootloader offset`,
      false,
    );
    this.bootloaderOffset = appStart - (appStart & 0xfff00000);
  }
}

/** The image is a Klipper build for an MCU the target row is not (known before anything is sent). */
export class ImageTargetMismatchError extends PreflightError {
  constructor(
    readonly imageMcu: string,
    readonly target: string,
    /** The row's Klipper MCU names. */
    readonly targetMcus: readonly string[],
  ) {
    super(
      "PREFLIGHT_TARGET_MCU",
      `the image is built for ${imageMcu}, but target ${target} is ${targetMcus.join(" / ")}`,
      false,
    );
  }
}

/**
 * Before any bus, port or bootloader request: does the image fit the row
 * (its MCU among the row's, its bytes inside the row's application area)?
 * Rows for any MCU ("*") or without an application area check nothing here;
 * the device checks after CONNECT still run.
 */
export function checkImageForTarget(
  f: {
    dictionary: KlipperDictionary | undefined;
    parsed: PlanInput | undefined;
    bytes: Uint8Array;
    path?: string;
    dfuSuffix?: DfuSuffix;
  },
  t: {
    id: string;
    mcu: readonly string[];
    appStart?: number;
    appEnd?: number;
    usbIds?: readonly string[];
  },
): void {
  // A .dfu file: its suffix must be intact and name this board's USB id.
  if (f.dfuSuffix) checkDfuSuffix(f.path ?? "the image", f.dfuSuffix, t.usbIds ?? []);
  const mcu = f.dictionary?.mcu;
  if (mcu && !t.mcu.includes("*") && !t.mcu.includes(mcu))
    throw new ImageTargetMismatchError(mcu, t.id, t.mcu);
  if (t.appStart === undefined || t.appEnd === undefined) return;
  if (!f.parsed) {
    // A raw .bin is written from the application start.
    if (t.appStart + f.bytes.length > t.appEnd)
      throw new ImageDoesNotFitError(t.appStart + f.bytes.length, t.appEnd, t.appStart);
    return;
  }
  const segs = f.parsed.segments.filter((s) => s.data.length > 0);
  if (segs.length === 0) return;
  const lo = Math.min(...segs.map((s) => s.address));
  const hi = Math.max(...segs.map((s) => s.address + s.data.length));
  if (lo < t.appStart) throw new ImageBelowStartError(lo, t.appStart);
  if (hi > t.appEnd) throw new ImageDoesNotFitError(hi, t.appEnd, t.appStart);
}

/** A UF2 whose family id is not the board's MCU (an RP2040 UF2 for an STM32). */
export class Uf2FamilyMismatchError extends PreflightError {
  constructor(
    readonly family: number,
    readonly mcu: string,
    readonly families: readonly number[],
  ) {
    super(
      "PREFLIGHT_UF2_FAMILY",
      `the UF2 is for chip family ${hex(family)}, but the board is ${mcu} (family ${families.map(hex).join(" or ")})`,
      false,
    );
  }
}

/**
 * No Klipper data dictionary, and the first words are no Cortex-M vector
 * table for this address (initial stack pointer in RAM, a Thumb reset
 * handler inside the area written): random bytes, a wrong file, or an image
 * for another offset.
 */
export class NotAnImageError extends PreflightError {
  constructor(
    readonly start: number,
    readonly stackPointer: number,
    readonly resetVector: number,
  ) {
    super(
      "PREFLIGHT_NOT_AN_IMAGE",
      `the file is no firmware image linked for ${hex(start)}: its first words (stack pointer ${hex(stackPointer)}, reset handler ${hex(resetVector)}) are no vector table, and it carries no Klipper data dictionary`,
      false,
    );
  }
}

/** The Klipper data dictionary inside an image, if any. */
export function imageDictionary(image: PlanInput): KlipperDictionary | undefined {
  for (const s of image.segments) {
    const found = findImageDictionary(s.data);
    if (found) return found.dictionary;
  }
  return undefined;
}

/** Before any frame is sent: is the image a build for this CAN bus? */
export function checkCanLink(
  dict: KlipperDictionary | undefined,
  o: {
    iface: string;
    interfaceBitrate: number | undefined;
    /** The node is the interface's own USB-to-CAN bridge. */
    isBridge?: boolean;
    force?: boolean;
  },
): void {
  if (!dict || o.force) return;
  if (dict.transport !== "can" && dict.transport !== "usb-can-bridge")
    throw new ImageTransportError(dict.transport);
  // A bridge build on a plain CAN node: it would wait for USB and leave the bus (and
  // a plain CAN build on the bridge would take the interface away from every node).
  if (o.isBridge !== undefined && (dict.transport === "usb-can-bridge") !== o.isBridge)
    throw new ImageBridgeMismatchError(dict.transport === "usb-can-bridge", o.iface);
  if (
    dict.canbusFrequency !== undefined &&
    o.interfaceBitrate !== undefined &&
    dict.canbusFrequency !== o.interfaceBitrate
  ) {
    throw new ImageBitrateMismatchError(dict.canbusFrequency, o.interfaceBitrate, o.iface);
  }
}

/** Cortex-M parts (the rest have no vector table at the application start to check). */
const isArm = (mcu: string | undefined) =>
  !!mcu && /^(stm32|rp2040|rp2350|lpc17|sam[34cde]|atsam|samd|same|samc)/i.test(mcu);

/** After CONNECT, before writing: is the image right for this chip and its bootloader? */
export function checkDevice(
  dict: KlipperDictionary | undefined,
  plan: FlashPlan,
  device: DeviceInfo,
  image: { uf2FamilyId?: number | undefined } = {},
): void {
  if (dict?.mcu && device.mcu && dict.mcu !== device.mcu)
    throw new ImageMcuMismatchError(dict.mcu, device.mcu);
  const mcu = device.mcu ?? dict?.mcu;
  const families = mcu ? mcuFlash(mcu)?.uf2Families : undefined;
  if (image.uf2FamilyId !== undefined && mcu && families && !families.includes(image.uf2FamilyId))
    throw new Uf2FamilyMismatchError(image.uf2FamilyId, mcu, families);
  if (!isArm(mcu)) return;
  // The vector table sits at the application start: word 0 the initial SP, word 1 the reset handler.
  const first = plan.blocks[0];
  if (!first || first.address !== plan.geometry.start || first.data.length < 8) return;
  const dv = new DataView(first.data.buffer, first.data.byteOffset, 8);
  const sp = dv.getUint32(0, true);
  const reset = dv.getUint32(4, true);
  const looksLikeVectors = (sp & 0xf0000000) === 0x20000000 || (sp & 0xf0000000) === 0x10000000;
  const thumb = (reset & 1) === 1;
  const handler = (reset & ~1) >>> 0;
  if (!looksLikeVectors || !thumb) {
    // A Klipper build always has its vector table here; without a dictionary, this is no image.
    if (!dict) throw new NotAnImageError(plan.start, sp, reset);
    return;
  }
  if (handler < plan.start || handler >= plan.end)
    throw new ImageOffsetMismatchError(handler, plan.start, plan.end);
}

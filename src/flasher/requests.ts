// What to flash, as callers give it (BoardSpec: a UUID, a tty or a
// printer.cfg name, a file, maybe a target) and as the orchestration takes
// it (FlashRequest: a parsed UUID or an absolute tty, the firmware read and
// parsed, the target row chosen). Every input is checked here, before any
// bus or port is opened: bad input sends nothing.

import { isSupported } from "../bootloaders/index.js";
import { ENTRIES } from "../entry/index.js";
import { isUuid, parseUuid, type Uuid } from "../klippy-bridge/uuid.js";
import { findTarget, targets, type Target } from "../targets/index.js";
import type { LineSequence } from "../transport/line-sequence.js";
import type { SerialMode } from "../transport/serial-mode.js";
import type { OpenOcdLink } from "../flash-api/driver.js";
import { CanflashError } from "../util/errors.js";
import { expandPath, readFirmware, type FirmwareFile } from "./firmware.js";
import { isUsbDeviceSpec, usbRequestLink, usbRowsFor, type UsbRequestLink } from "./usb-devices.js";

export { isUuid, parseUuid, type Uuid };
export { parseSerialMode, type SerialMode } from "../transport/serial-mode.js";
export { parseLineSequence, type LineSequence } from "../transport/line-sequence.js";

declare module "../util/errors.js" {
  interface ErrorCodes {
    NO_BOARDS: true;
    BOARD_LISTED_TWICE: true;
    TARGET_AMBIGUOUS: true;
    USB_TARGET_NEEDED: true;
    SWD_ADDRESS_NEEDED: true;
  }
}

/** A board as a caller names it. */
export interface BoardSpec {
  /** Label: printer.cfg section, or the UUID/tty. */
  label: string;
  uuid?: string;
  /**
   * A tty, or a USB device in its bootloader: "usb:0483:df11",
   * "usb:<serial>", "usb:1-1.4" (bus-port path), "usb:" (the row's USB ids).
   */
  device?: string;
  /** Named by printer.cfg section ("EBBCan"): resolved with resolveMcuNames first. */
  mcu?: string;
  baud?: number;
  /** Serial line settings (tty boards): absent, the bootloader's default. */
  serialMode?: SerialMode;
  /** DTR/RTS entry and exit sequences (tty boards whose BOOT0/RESET are on the adapter's lines). */
  lineSequence?: LineSequence;
  /** CAN interface for uuid boards. */
  iface: string;
  /** The interface was given for this board (else a printer.cfg name takes its canbus_interface). */
  explicitIface?: boolean;
  file: string;
  /** The board's row of the device table; absent: chosen from the link and the image. */
  target?: Target;
  /** Where the board was given (a manifest's file and line), for errors about it. */
  origin?: string;
  /** A chip on SWD/JTAG through OpenOCD (rows of protocol "swd"). */
  openocd?: OpenOcdLink;
}

export interface CanRequestLink {
  kind: "can";
  iface: string;
  uuid: Uuid;
}
export interface SerialRequestLink {
  kind: "serial";
  /** Absolute path. */
  device: string;
  baud?: number;
  mode?: SerialMode;
  lines?: LineSequence;
}

/** A drive the row's bootloader is flashed through by a file copy (MSC, UF2, an SD card). */
export interface DriveRequestLink {
  kind: "drive";
  /** Absolute path of a mount point, block device or FAT image; absent: found by the row's USB id and label. */
  device?: string;
}

export type { UsbRequestLink };

export interface FlashRequest {
  id: string;
  link: CanRequestLink | SerialRequestLink | DriveRequestLink | UsbRequestLink | OpenOcdLink;
  firmware: FirmwareFile;
  target: Target;
  /** The target was given (not chosen by canflash). */
  targetGiven: boolean;
}

export class NoBoardsError extends CanflashError {
  constructor() {
    super("NO_BOARDS", "no boards to flash");
  }
}

export class BoardListedTwiceError extends CanflashError {
  constructor(readonly board: string) {
    super("BOARD_LISTED_TWICE", `${board} is listed twice`);
  }
}

/** A tty board without a target, whose image's MCU has several bootloaders in the table. */
export class AmbiguousTargetError extends CanflashError {
  constructor(
    readonly file: string,
    readonly mcu: string,
    readonly device: string,
    readonly candidates: readonly string[],
  ) {
    super(
      "TARGET_AMBIGUOUS",
      `${file} is a Klipper build for ${mcu}, which has ${candidates.length} bootloader variants: ${candidates.join(", ")}`,
    );
  }
}

/** Where a board is, for messages: its UUID, its tty or drive or usb: spec, or "the <row> drive" when it is found by USB id. */
export function linkWhere(link: FlashRequest["link"], target?: { id: string }): string {
  if (link.kind === "can") return link.uuid;
  if (link.kind === "usb") return link.spec;
  if (link.kind === "openocd") return openocdWhere(link);
  return link.device ?? `the ${target?.id ?? "bootloader"} drive`;
}

/** An OpenOCD link in words: "OpenOCD at localhost:6666", "SWD on GPIO 25/24 (bcm2835gpio)", "OpenOCD with rpi.cfg". */
export function openocdWhere(l: OpenOcdLink): string {
  if (l.rpc) return `OpenOCD at ${l.rpc.host}:${l.rpc.port}`;
  if (l.gpio) return `SWD on GPIO ${l.gpio.swclk}/${l.gpio.swdio} (${l.gpio.driver})`;
  return `OpenOCD with ${l.config ?? "?"}`;
}

/** A raw .bin for a row of any chip, with no address and no chip to take one from. */
export class SwdAddressNeededError extends CanflashError {
  constructor(
    readonly file: string,
    readonly target: string,
  ) {
    super(
      "SWD_ADDRESS_NEEDED",
      `${file} is a raw binary without addresses, and ${target} is for any chip: where it goes must be given`,
    );
  }
}

/** A row flashed by copying a file to a drive (its transports are drives only). */
export const isDriveTarget = (t: Target): boolean =>
  t.transports.every((x) => x === "usb-msc" || x === "sdcard");

/** A USB device named without its USB id (a serial, a port path) and no row given. */
export class UsbTargetNeededError extends CanflashError {
  constructor(
    readonly device: string,
    readonly file: string,
    /** Rows flashed over USB by this build. */
    readonly candidates: readonly string[],
  ) {
    super(
      "USB_TARGET_NEEDED",
      candidates.length === 0
        ? `${device}: no bootloader row of this build has that USB id`
        : `${device} names no USB id: which bootloader runs there cannot be told from it`,
    );
  }
}

/** The row for boards flashed through Katapult when no target is given. */
export const KATAPULT_TARGET_ID = "katapult";

/**
 * The row for a board without a target. CAN boards run Katapult. A tty board
 * runs Katapult too, unless the image is a Klipper build for a chip that the
 * table lists only with other bootloaders (an AVR: Katapult does not run
 * there): then that chip's row, and several rows are a question.
 */
export async function chooseTarget(
  link: FlashRequest["link"],
  firmware: FirmwareFile,
): Promise<Target> {
  const mcu = firmware.dictionary?.mcu;
  if (link.kind === "usb") {
    // By the USB id: the rows that enumerate with it, narrowed by the image's MCU.
    const rows = await usbRowsFor(link.selector);
    const fit = mcu ? rows.filter((t) => t.mcu.includes(mcu) || t.mcu.includes("*")) : rows;
    const pick = fit.length > 0 ? fit : rows;
    if (link.selector.vendorId === undefined || pick.length === 0)
      throw new UsbTargetNeededError(
        link.spec,
        firmware.path,
        (await usbRowsFor({})).map((t) => t.id),
      );
    if (pick.length > 1)
      throw new AmbiguousTargetError(
        firmware.path,
        mcu ?? "an unknown MCU",
        link.spec,
        pick.map((t) => t.id),
      );
    return pick[0]!;
  }
  const katapult = findTarget(KATAPULT_TARGET_ID);
  if (link.kind === "can" || !mcu) return katapult;
  const rows: Target[] = [];
  for (const t of targets())
    if (
      t.mcu.includes(mcu) &&
      (t.transports.includes("uart") || t.transports.includes("usb-cdc")) &&
      // A row only a person can enter (the STM32 ROM's boot pins) is never guessed: --target names it.
      t.entry.some((e) => ENTRIES[e].automatic) &&
      (await isSupported(t))
    )
      rows.push(t);
  if (rows.length === 0 || rows.some((t) => t.protocol === katapult.protocol)) return katapult;
  if (rows.length > 1)
    throw new AmbiguousTargetError(
      firmware.path,
      mcu,
      linkWhere(link),
      rows.map((t) => t.id),
    );
  return rows[0]!;
}

/**
 * Checks the specs and reads their firmware: UUIDs parse, no board twice,
 * every file readable and parsed, a target for each. Opens no bus or port.
 */
export async function prepareRequests(
  specs: readonly BoardSpec[],
  o: { cwd: string; home?: string | undefined },
): Promise<FlashRequest[]> {
  if (specs.length === 0) throw new NoBoardsError();
  const seen = new Set<string>();
  const files = new Map<string, Promise<FirmwareFile>>();
  const out: FlashRequest[] = [];
  for (const e of specs) {
    try {
      out.push(await prepareOne(e, o, seen, files));
    } catch (err) {
      // Name where the board came from (a manifest line) on the error itself.
      if (e.origin && err instanceof CanflashError && err.origin === undefined)
        err.origin = e.origin;
      throw err;
    }
  }
  return out;
}

async function prepareOne(
  e: BoardSpec,
  o: { cwd: string; home?: string | undefined },
  seen: Set<string>,
  files: Map<string, Promise<FirmwareFile>>,
): Promise<FlashRequest> {
  if (e.mcu !== undefined && e.uuid === undefined && e.device === undefined)
    throw new RangeError(`${e.label}: printer.cfg name not resolved (resolveMcuNames first)`);
  const link: FlashRequest["link"] = e.openocd
    ? e.openocd
    : e.target && isDriveTarget(e.target) && e.uuid === undefined
      ? {
          kind: "drive",
          ...(e.device !== undefined ? { device: expandPath(e.device, o.cwd, o.home) } : {}),
        }
      : e.uuid !== undefined
        ? { kind: "can", iface: e.iface, uuid: parseUuid(e.uuid) }
        : isUsbDeviceSpec(e.device!)
          ? usbRequestLink(e.device!)
          : {
              kind: "serial",
              device: expandPath(e.device!, o.cwd, o.home),
              ...(e.baud !== undefined ? { baud: e.baud } : {}),
              ...(e.serialMode ? { mode: e.serialMode } : {}),
              ...(e.lineSequence ? { lines: e.lineSequence } : {}),
            };
  const key =
    link.kind === "can"
      ? `${link.iface}/${link.uuid}`
      : link.kind === "usb"
        ? link.spec
        : link.kind === "openocd"
          ? openocdWhere(link)
          : (link.device ?? `drive:${e.target?.id}`);
  if (seen.has(key)) throw new BoardListedTwiceError(e.label);
  seen.add(key);
  if (!files.has(e.file)) files.set(e.file, readFirmware(e.file, o.cwd, o.home));
  const firmware = await files.get(e.file)!;
  if (link.kind === "openocd" && e.target) {
    // A row for any chip: the image's own MCU names it (target script, erase, where a .bin goes).
    if (e.target.mcu.includes("*") && link.chip === undefined && firmware.dictionary?.mcu)
      link.chip = firmware.dictionary.mcu;
    if (
      firmware.format === "bin" &&
      e.target.mcu.includes("*") &&
      link.address === undefined &&
      link.chip === undefined
    )
      throw new SwdAddressNeededError(firmware.path, e.target.id);
  }
  return {
    id: e.label,
    link,
    firmware,
    target: e.target ?? (await chooseTarget(link, firmware)),
    targetGiven: !!e.target,
  };
}

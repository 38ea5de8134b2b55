// Hints for the flasher core: pre-flight refusals, plans, verification,
// drivers and targets, the batch, and bad input found before anything was sent.

import { ExitCode } from "../exit-codes.js";
import { list, num, retryLine, str, type HintTable } from "./types.js";

const hex = (n: number | undefined) => (n === undefined ? "?" : `0x${n.toString(16)}`);
const refused = ["nothing was written"];

export const flasherHints = {
  PREFLIGHT_MCU: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: refused,
    next: [
      `rebuild Klipper for ${str(e, "deviceMcu")} (make menuconfig: Processor model) — or check that this is the right board`,
    ],
  }),
  PREFLIGHT_TARGET_MCU: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: ["nothing was sent"],
    next: [
      `rebuild Klipper for ${list(e, "targetMcus")[0]} (make menuconfig: Processor model), or pick the target of this board: canflash targets`,
    ],
  }),
  PREFLIGHT_BRIDGE: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: ["nothing was sent"],
    next: [
      e.imageIsBridge
        ? "rebuild Klipper with Communication interface CAN bus (not USB to CAN bus bridge) for a toolhead, or pass --force if this board really becomes the bridge"
        : "rebuild Klipper with Communication interface USB to CAN bus bridge for the bridge board, or pass --force to turn it into a plain CAN node on purpose",
    ],
  }),
  PREFLIGHT_UF2_FAMILY: () => ({
    exitCode: ExitCode.REFUSED,
    causes: refused,
    next: ["use the UF2 (or .bin) built for this board's MCU"],
  }),
  PREFLIGHT_NOT_AN_IMAGE: () => ({
    exitCode: ExitCode.REFUSED,
    causes: [...refused, "a Klipper build always starts with its vector table"],
    next: [
      "flash out/klipper.bin from a Klipper build (make in ~/klipper); to try canflash without one: canflash demo-image -o klipper.bin",
    ],
  }),
  PREFLIGHT_BITRATE: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: refused,
    next: [
      `rebuild Klipper with CAN bus speed ${num(e, "interfaceBitrate")} (make menuconfig), or move the whole bus to ${num(e, "imageBitrate")} and pass --force`,
    ],
  }),
  PREFLIGHT_TRANSPORT: () => ({
    exitCode: ExitCode.REFUSED,
    causes: refused,
    next: [
      "rebuild Klipper with Communication interface CAN bus (make menuconfig), or pass --force to move the board off CAN on purpose",
    ],
  }),
  PREFLIGHT_OFFSET: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: refused,
    next: [
      `rebuild Klipper with Bootloader offset ${hex(num(e, "bootloaderOffset"))} (make menuconfig)`,
    ],
  }),
  IMAGE_BELOW_APP_START: () => ({
    exitCode: ExitCode.REFUSED,
    next: [
      "rebuild Klipper with the bootloader offset and flash size of this board (make menuconfig)",
    ],
  }),
  IMAGE_DOES_NOT_FIT: () => ({
    exitCode: ExitCode.REFUSED,
    next: [
      "rebuild Klipper with the bootloader offset and flash size of this board (make menuconfig)",
    ],
  }),
  BAD_GEOMETRY: () => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the bootloader reported a geometry canflash cannot plan for (a bug: please report it)",
    ],
    next: ["report it with --trace-file <file> attached"],
  }),
  VERIFY_MISMATCH: (_e, ctx) => ({
    exitCode: ExitCode.VERIFY_MISMATCH,
    causes: ["a write did not stick (worn or protected flash), or a frame was corrupted"],
    next: [
      "run the same command again; if it fails at the same address, the flash may be damaged",
      ...(ctx.retry ? [ctx.retry] : []),
    ],
  }),
  FLASH_FAILED: (_e, ctx) => ({ exitCode: ExitCode.FAILURE, next: retryLine(ctx) }),
  SKIPPED: (e) =>
    e.reason === "interrupted"
      ? { exitCode: ExitCode.INTERRUPTED, causes: ["nothing was sent to this board"] }
      : {
          exitCode: ExitCode.FAILURE,
          causes: ["an earlier board failed"],
          next: ["use --keep-going to flash the rest anyway"],
        },
  DRY_RUN_STOP: () => ({ exitCode: ExitCode.OK }),
  LINK_NOT_SUPPORTED: (e) => ({
    exitCode: ExitCode.USAGE,
    causes: [
      `the ${str(e, "protocol")} bootloader is reached over ${list(e, "links").join(" or ")}`,
    ],
    next: [
      list(e, "links").includes("serial")
        ? `give the board's tty: canflash --target ${str(e, "target")} -d /dev/serial/by-id/… <file>`
        : `give the board's UUID: canflash -u <uuid> <file>`,
    ],
  }),
  NO_ENTRY: (e) => {
    const manual = list(e, "manual");
    const how: Record<string, string> = {
      "double-reset": "double-tap the board's reset button",
      "boot-pins": "set the BOOT0 jumper (or hold BOOT) and reset the board",
      button: "hold the bootloader button while plugging the board in",
      "play-button": "hold the play button while resetting the board",
      "erase-pin": "close the erase jumper and power-cycle the board",
      "card-insert": "put the firmware on the SD card and reset the board",
    };
    return {
      exitCode: ExitCode.NO_NODE,
      causes: ["nothing was sent"],
      next: [
        ...(manual.length
          ? manual.map((m) => `${how[m] ?? m}, then give canflash the bootloader's port`)
          : ["put the board into its bootloader by hand, then retry"]),
        "see the board's row: canflash targets " + (str(e, "target") ?? ""),
      ],
    };
  },
  REQUEST_IMPOSSIBLE: (e) => ({
    exitCode: ExitCode.USAGE,
    next: [
      `flash directly: canflash --target ${str(e, "target")} -d ${str(e, "board")} <file>` +
        (num(e, "listenWindowMs") !== undefined
          ? " (canflash resets the board itself)"
          : " (canflash gets the board there, or says what to press)"),
    ],
  }),
  BOOTLOADER_UNSUPPORTED: (e) => ({
    exitCode: ExitCode.USAGE,
    next: [`the seed's command for it: ${str(e, "seedCommand")}`],
  }),
  TARGET_AMBIGUOUS: (e) => {
    const c = list(e, "candidates");
    return {
      exitCode: ExitCode.USAGE,
      next: [
        `pick one: ${c.map((t) => `--target ${t}`).join(" or ")} (e.g. canflash --target ${c[0]} -d ${str(e, "device")} ${str(e, "file")})`,
      ],
    };
  },
  USB_TARGET_NEEDED: (e) => {
    const c = list(e, "candidates");
    return {
      exitCode: ExitCode.USAGE,
      causes: ["a serial number or port path does not say which bootloader the device runs"],
      next:
        c.length > 0
          ? [
              `name the row: ${c.map((t) => `--target ${t}`).join(", ")} (e.g. canflash --target ${c[0]} -d ${str(e, "device")} ${str(e, "file")})`,
              "canflash doctor   (lists the USB bootloaders it sees, with the command for each)",
            ]
          : ["canflash targets   (the rows and their USB ids)"],
    };
  },
  UNKNOWN_TARGET: () => ({ exitCode: ExitCode.USAGE, next: ["list them: canflash targets"] }),
  TARGET_TABLE: () => ({
    exitCode: ExitCode.FAILURE,
    causes: ["canflash's own device table is broken (a bug: please report it)"],
  }),
  NO_BOARDS: () => ({
    exitCode: ExitCode.USAGE,
    next: ["give -u <uuid> (repeatable), -d <tty>, --mcu <name> or --manifest <file>"],
  }),
  BOARD_LISTED_TWICE: () => ({ exitCode: ExitCode.USAGE, next: ["list each board once"] }),
  USAGE: (e) => ({
    exitCode: ExitCode.USAGE,
    next: str(e, "fix") ? [str(e, "fix")!] : [],
  }),
  BOARD_LOCKED: (e, ctx) => ({
    exitCode: ExitCode.LOCKED,
    causes: ["nothing was sent: two flashes of one board at once would corrupt it"],
    next: [
      `wait for PID ${String(e.pid)} to finish (ps -p ${String(e.pid)} -o args=), then retry`,
      ...(ctx.retry ? [ctx.retry] : []),
    ],
  }),
  ABORTED: (_e, ctx) => ({
    exitCode: ExitCode.INTERRUPTED,
    message: "interrupted",
    next: ctx.retry ? [`to finish: ${ctx.retry}`] : [],
  }),
} satisfies HintTable;

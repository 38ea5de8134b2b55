// Hints for getting CAN nodes into Katapult and for Katapult sessions.

import { ExitCode } from "../exit-codes.js";
import { list, retryLine, str, type HintTable } from "./types.js";

export const katapultHints = {
  NO_NODE: (_e, ctx) => ({
    exitCode: ExitCode.NO_NODE,
    causes: [
      "the board is not powered, or CAN H/L are swapped or unterminated",
      `the board runs at another bitrate than ${ctx.iface}`,
      "the UUID is mistyped (compare canflash -q and canbus_uuid in printer.cfg)",
      "its Klipper predates 2022-04 and ignores the bootloader request: double-tap reset to enter Katapult",
    ],
    next: [`list the nodes: canflash -i ${ctx.iface} -q`],
  }),
  BOOTLOADER_ENTRY_TIMEOUT: () => ({
    exitCode: ExitCode.NO_NODE,
    causes: [
      "Katapult is not installed on this board (Klipper then falls back to the chip's own bootloader)",
      "Katapult was built for another CAN bitrate",
    ],
    next: [
      "double-tap the board's reset button to enter Katapult, then retry",
      "see the board's bootloader: canflash targets",
    ],
  }),
  KATAPULT_WEDGED: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "a frame reached the bootloader damaged; Katapult then ignores all input until it is reset",
    ],
    next: [
      "power-cycle the board, or double-tap its reset button to enter Katapult",
      ...retryLine(ctx),
    ],
  }),
  KATAPULT_NO_RESPONSE: (e, ctx) =>
    e.over === "serial"
      ? {
          exitCode: ExitCode.NO_NODE,
          causes: [
            "the board is not in Katapult: a Klipper board on a UART needs the request first (canflash -r -d <tty>), or a double-tap of reset",
            "Katapult runs at another baud rate than -b (its default is 250000; a USB board ignores -b)",
            "TX and RX are swapped, or the port is not this board's",
          ],
          next: ["canflash doctor lists the serial devices", ...retryLine(ctx)],
        }
      : {
          exitCode: ExitCode.FAILURE,
          causes: [
            "the board reset or lost power",
            "another host (a running Klipper) reassigned its node id",
          ],
          next: ["double-tap the board's reset button to enter Katapult", ...retryLine(ctx)],
        },
  KATAPULT_COMMAND_ERROR: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the bootloader refused the command: an address outside its flash, or a flash write that failed",
    ],
    next: retryLine(ctx),
  }),
  KATAPULT_PROTOCOL: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the reply does not fit the Katapult protocol: another program talks on the same link, or the bootloader is not Katapult",
    ],
    next: ["stop other programs using the board (Klipper)", ...retryLine(ctx)],
  }),
  KATAPULT_FRAME: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["a damaged frame arrived (noise on the line, or the wrong baud rate on a UART)"],
    next: retryLine(ctx),
  }),
  KATAPULT_BLOCK_SIZE: () => ({
    exitCode: ExitCode.REFUSED,
    causes: ["nothing was written: this Katapult build reports a block size canflash cannot send"],
    next: ["update Katapult on the board, or report the block size it reports"],
  }),
  UUID_MISMATCH: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["two hosts are assigning node ids on this bus (is Klipper running?)"],
    next: ["sudo systemctl stop klipper", ...retryLine(ctx)],
  }),
  USB_REENUMERATION_TIMEOUT: (_e, ctx) => ({
    exitCode: ExitCode.NO_NODE,
    causes: [
      "Katapult is not installed, so the board fell back to the chip's own bootloader (see canflash targets)",
      "the USB cable or hub dropped the device",
    ],
    next: [
      "double-tap the board's reset button, then flash the Katapult tty that appears",
      ...retryLine(ctx),
    ],
  }),
  BRIDGE_IN_DFU: (e) => {
    const rows = list(e, "targets");
    return {
      exitCode: ExitCode.NO_NODE,
      causes: [
        "Katapult is not on the board (or is damaged), so the chip started its own USB DFU bootloader",
      ],
      next: [
        `flash it over DFU now: canflash --target ${rows.length === 1 ? rows[0] : `<${rows.join("|")}>`} -d usb:${str(e, "usbPath")} <file>`,
        "the file: Katapult's own image (to get Katapult back, then flash Klipper over CAN), or a Klipper build with the bootloader offset 'No bootloader' (one linked after Katapult does not start without it)",
      ],
    };
  },
} satisfies HintTable;

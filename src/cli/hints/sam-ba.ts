// Hints for the SAM-BA monitors (bossac's boards: Arduino Due, Duet, Arduino
// Zero, SAMD51 with UF2) and for entries a person does.

import { ExitCode } from "../exit-codes.js";
import { list, retryLine, str, type HintTable } from "./types.js";

export const samBaHints = {
  SAMBA_NO_ANSWER: (e, ctx) => ({
    exitCode: ExitCode.NO_NODE,
    causes: [
      "the board runs its application, and this port cannot ask it into the bootloader (a UART, or firmware without the 1200-baud touch)",
      "the port is not this board (check /dev/serial/by-id/)",
      ...(str(e, "found") ? [`the port belongs to ${str(e, "found")}`] : []),
    ],
    next: [
      ...(str(e, "found")?.startsWith("Katapult")
        ? [
            `the board runs Katapult: flash it through Katapult, canflash -d ${str(e, "port")} <file> (no --target)`,
          ]
        : []),
      "SAMD boards: double-tap the reset button (the LED pulses), then retry with the port that appears",
      "Arduino Due: use the programming port, or press ERASE then RESET (this erases the flash)",
      ...retryLine(ctx),
    ],
  }),
  SAMBA_WRONG_CHIP: (e, ctx) => {
    const suggested = list(e, "suggestedTargets");
    const port = str(e, "port")!;
    return {
      exitCode: ExitCode.REFUSED,
      causes: [`the board is not what --target ${str(e, "target")} describes`],
      next: suggested.length
        ? suggested.map((id) =>
            ctx.retry?.includes("--target")
              ? ctx.retry.replace(/--target[ =]\S+/, `--target ${id}`)
              : `canflash --target ${id} -d ${port} <file>`,
          )
        : ["canflash targets — no row fits this chip; flash it with bossac"],
    };
  },
  SAMBA_UNKNOWN_CHIP: () => ({
    exitCode: ExitCode.REFUSED,
    causes: ["nothing was written"],
    next: ["flash it with bossac, and report the chip id to canflash"],
  }),
  SAMBA_PROTOCOL: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the USB cable or hub drops data, or another program talks to the port",
      "over a UART: the baud rate is not the monitor's (115200)",
    ],
    next: ["reset the board into its bootloader again", ...retryLine(ctx)],
  }),
  SAMBA_FLASH: (e, ctx) => ({
    exitCode: str(e, "reason") === "locked" ? ExitCode.REFUSED : ExitCode.FAILURE,
    causes:
      str(e, "reason") === "locked"
        ? [
            "the address lies in the bootloader's protected area (BOOTPROT) or a locked region: the image is built for another bootloader offset",
          ]
        : [
            "the flash controller refused a command or did not finish (a worn or damaged flash, a brown-out)",
          ],
    next:
      str(e, "reason") === "locked"
        ? ["build Klipper with the bootloader offset of canflash targets' row, then retry"]
        : retryLine(ctx),
  }),
  MANUAL_ENTRY_TIMEOUT: (_e, ctx) => ({
    exitCode: ExitCode.NO_NODE,
    causes: ["the buttons were not pressed in time, or the board has no such bootloader"],
    next: retryLine(ctx),
  }),
} satisfies HintTable;

// Hints for the Arduino serial bootloaders.

import { ExitCode } from "../exit-codes.js";
import { list, num, retryLine, str, type HintTable } from "./types.js";

export const avrHints = {
  AVR_NO_ANSWER: (e, ctx) => ({
    exitCode: ExitCode.NO_NODE,
    causes: [
      ...(e.autoReset === false
        ? ["press the board's reset button when canflash says so"]
        : e.resetPulsed
          ? []
          : ["press the board's reset button, then run canflash within the listen window"]),
      `the bootloader runs at another baud rate than ${num(e, "baud")} (-b, or the right --target: canflash targets)`,
      "the board has no Arduino bootloader (it was programmed over ISP)",
      "the port is not this board (check /dev/serial/by-id/)",
    ],
    next: ctx.retry
      ? retryLine(ctx)
      : ["canflash targets — the baud rate and listen window per board"],
  }),
  AVR_WRONG_TARGET: (e, ctx) => {
    const expected = str(e, "expectedTarget")!;
    const suggested = list(e, "suggestedTargets");
    const port = str(e, "port")!;
    const withTarget = (id: string): string => {
      const r = ctx.retry ?? `canflash --target ${expected} -d ${port} <file>`;
      const swapped = r
        .replace(/--target[ =]\S+/, `--target ${id}`)
        .replace(/ (-b|--baud)[ =]\S+/, "");
      return swapped.includes(`--target ${id}`)
        ? swapped
        : `canflash --target ${id} -d ${port} <file>`;
    };
    return {
      exitCode: ExitCode.REFUSED,
      causes: [
        suggested.includes(expected)
          ? `-b ${num(e, "expectedBaud")} is not this bootloader's speed: it answers at ${num(e, "foundBaud")} baud (leave -b out: the target knows it)`
          : `the board is not what --target ${expected} describes: it was picked wrongly, or it carries another bootloader than the usual one for it`,
      ],
      next: suggested.length
        ? suggested.map(withTarget)
        : [
            "canflash targets — no row fits what answered; flash it with avrdude and report the board",
          ],
    };
  },
  AVR_SIGNATURE: () => ({
    exitCode: ExitCode.REFUSED,
    causes: ["nothing was written"],
    next: ["pick the target of the chip that answered: canflash targets"],
  }),
  STK500_PROTOCOL: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["the line is noisy, or the baud rate is off by more than the UART tolerates"],
    next: retryLine(ctx),
  }),
} satisfies HintTable;

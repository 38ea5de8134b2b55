// Hints for serial ports.

import { ExitCode } from "../exit-codes.js";
import { list, retryLine, str, type HintTable } from "./types.js";

export const serialHints = {
  PORT_IN_USE: (e, ctx) => {
    const holders = (e.holders ?? []) as Array<{ pid: number; command: string; cmdline: string }>;
    const klipper = holders.some((h) => /klipp|klippy|moonraker/i.test(h.cmdline));
    return {
      exitCode: ExitCode.INTERFACE,
      causes: holders.map((h) => `PID ${h.pid}: ${h.cmdline || h.command}`),
      next: klipper
        ? ["sudo systemctl stop klipper", ...retryLine(ctx)]
        : ["stop the program holding the port (or kill the PID above)", ...retryLine(ctx)],
    };
  },
  PORT_NOT_FOUND: () => ({
    exitCode: ExitCode.INTERFACE,
    causes: ["the board is unplugged, or re-enumerated under another name"],
    next: ["list the serial devices: ls -l /dev/serial/by-id/", "see what exists: canflash doctor"],
  }),
  PORT_NOT_A_TTY: () => ({
    exitCode: ExitCode.USAGE,
    causes: ["nothing was sent"],
    next: ["give the board's serial device: ls -l /dev/serial/by-id/ (or canflash doctor)"],
  }),
  PORT_PERMISSION_DENIED: () => ({
    exitCode: ExitCode.INTERFACE,
    causes: ["your user is not in the dialout group"],
    next: ["sudo usermod -aG dialout $USER   (then log out and in)"],
  }),
  SERIAL_IO: (e, ctx) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      `${str(e, "operation")} failed on ${str(e, "path")}: the device went away (unplugged, or it rebooted and re-enumerated)`,
    ],
    next: ["see what exists: canflash doctor", ...retryLine(ctx)],
  }),
  SERIAL_MODE: () => ({
    exitCode: ExitCode.USAGE,
    next: ["e.g. --serial-mode 8e1 (the STM32 ROM) or --serial-mode 8n1"],
  }),
  SERIAL_MODE_NOT_SUPPORTED: (e) => ({
    exitCode: ExitCode.USAGE,
    causes: ["nothing was sent"],
    next: [`leave --serial-mode out (this bootloader talks ${list(e, "modes").join(" or ")})`],
  }),
  LINE_SEQUENCE: () => ({
    exitCode: ExitCode.USAGE,
    causes: ["nothing was sent"],
    next: [
      "write it as stm32flash's -i: entry[:exit] with rts, dtr, -rts, -dtr joined by & (together) or , (then 100 ms)",
      "e.g. --reset-sequence '-dtr&rts,dtr,-rts:-dtr&-rts,dtr'",
    ],
  }),
  LINE_SEQUENCE_NOT_SUPPORTED: () => ({
    exitCode: ExitCode.USAGE,
    causes: ["nothing was sent"],
    next: ["drop --reset-sequence: only the STM32 ROM serial rows are entered through DTR/RTS"],
  }),
  LINE_SEQUENCE_REFUSED: (e, ctx) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      `${str(e, "port")} has no modem-control lines (a pty, or an adapter without DTR/RTS)`,
      "nothing was written",
    ],
    next: [
      "drop --reset-sequence and set BOOT0 and reset by hand (canflash then waits for the ROM)",
      ...retryLine(ctx),
    ],
  }),
} satisfies HintTable;

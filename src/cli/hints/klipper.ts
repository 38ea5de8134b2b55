// Hints for the Klipper side: the running service, printer.cfg, identify.

import { ExitCode } from "../exit-codes.js";
import { list, num, retryLine, str, type HintTable } from "./types.js";

export const klipperHints = {
  KLIPPER_HOLDS_BOARDS: (_e, ctx) => ({
    exitCode: ExitCode.BUSY,
    causes: ["nothing was sent"],
    next: [
      ctx.retry
        ? `let canflash stop and restart Klipper: ${ctx.retry.replace(/^canflash /, "canflash --stop-klipper ")}`
        : "add --stop-klipper: canflash stops Klipper, flashes, and starts it again",
      "or stop it yourself first: sudo systemctl stop klipper",
    ],
  }),
  KLIPPER_PRINTING: () => ({
    exitCode: ExitCode.BUSY,
    causes: ["nothing was sent; Klipper keeps running"],
    next: ["wait for the print to finish (or cancel it), then retry"],
  }),
  KLIPPER_CONTROL: (e, ctx) => ({
    exitCode: ExitCode.BUSY,
    causes: ["nothing was sent"],
    next: [
      `${str(e, "action") ?? "stop"} it yourself: sudo systemctl ${str(e, "action") ?? "stop"} ${str(e, "service") ?? "klipper"}`,
      ...retryLine(ctx),
    ],
  }),
  KLIPPER_DICTIONARY: () => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the board's (or image's) Klipper data dictionary is damaged or from a Klipper canflash does not know",
    ],
    next: ["report it with --trace-file <file> attached"],
  }),
  MCU_TIMEOUT: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the Klipper board stopped answering while it was identified (reset, or another host took its node id)",
    ],
    next: [`list the nodes: canflash -i ${ctx.iface} -q`, ...retryLine(ctx)],
  }),
  IDENTIFY_FAILED: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["the board runs Klipper but did not finish identify (a damaged or very old build)"],
    next: [`the bare query: canflash -i ${ctx.iface} -q --no-identify`],
  }),
  MSGPROTO: () => ({
    exitCode: ExitCode.FAILURE,
    causes: ["a Klipper message did not decode (a damaged frame, or an unknown build)"],
    next: ["report it with --trace-file <file> attached"],
  }),
  MSGPROTO_VLQ: () => ({
    exitCode: ExitCode.FAILURE,
    causes: ["a Klipper message did not decode (a damaged frame, or an unknown build)"],
    next: ["report it with --trace-file <file> attached"],
  }),
  PRINTER_CFG: () => ({
    exitCode: ExitCode.USAGE,
    causes: [],
    next: ["fix printer.cfg, or name the boards by UUID (-u) or device (-d)"],
  }),
  PRINTER_CONFIG_NOT_FOUND: () => ({
    exitCode: ExitCode.USAGE,
    next: ["give the path of printer.cfg with --config <file>"],
  }),
  PRINTER_CONFIG_NONE: () => ({
    exitCode: ExitCode.USAGE,
    next: ["give it with --config <file> (or `config:` in the manifest)"],
  }),
  MCU_NOT_CONFIGURED: (e) => ({
    exitCode: ExitCode.USAGE,
    next: [`known: ${list(e, "known").join(", ") || "none"} (or give the board by UUID with -u)`],
  }),
  MCU_CONFIG_PROBLEM: () => ({ exitCode: ExitCode.USAGE, next: ["fix printer.cfg"] }),
  MCU_IS_HOST_PROCESS: () => ({
    exitCode: ExitCode.USAGE,
    next: ["rebuild and reinstall it (make; sudo make flash) in ~/klipper"],
  }),
  INVALID_UUID: (_e, ctx) => ({
    exitCode: ExitCode.USAGE,
    next: [`list the nodes: canflash -i ${ctx.iface} -q`],
  }),
  SIM_INPUT: (e) => ({
    exitCode: ExitCode.USAGE,
    next: [
      e.problem === "demo-bus"
        ? "run the simulated boards on a shared bus: canflash sim -i vcan0 …"
        : e.problem === "no-boards"
          ? "add --katapult <uuid> and/or --klipper <uuid>"
          : "give each UUID once",
    ],
  }),
  TIMEOUT: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [`nothing answered ${str(e, "operation")} within ${num(e, "timeoutMs")} ms`],
    next: retryLine(ctx),
  }),
} satisfies HintTable;

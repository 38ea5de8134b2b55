// Hints for the Moonraker side: the agent's socket, Moonraker's refusals,
// the agent's config and methods, "what needs reflashing".

import { ExitCode } from "../exit-codes.js";
import { str, type HintTable } from "./types.js";

export const moonrakerHints = {
  MOONRAKER_UNREACHABLE: (e) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["Moonraker is not running, or its socket is elsewhere"],
    next: [
      "sudo systemctl status moonraker",
      `check the socket path (${str(e, "socketPath") ?? "~/printer_data/comms/moonraker.sock"}): --socket <path>`,
    ],
  }),
  MOONRAKER_DISCONNECTED: () => ({
    exitCode: ExitCode.FAILURE,
    causes: ["Moonraker restarted or stopped while canflash waited for it"],
    next: ["sudo systemctl status moonraker, then retry"],
  }),
  MOONRAKER_RPC: () => ({
    exitCode: ExitCode.FAILURE,
    causes: ["Moonraker refused the request (see its moonraker.log)"],
    next: ["check [machine] provider and the allowed services (moonraker.asvc lists klipper)"],
  }),
  AGENT_NAME_TAKEN: (e) => ({
    exitCode: ExitCode.BUSY,
    causes: ["another canflash agent (or another program) already uses this agent name"],
    next: [
      "sudo systemctl status canflash-agent (one agent per printer is enough)",
      `or give this one another name: canflash agent --name ${str(e, "agentName") ?? "canflash"}-2`,
    ],
  }),
  AGENT_FLASH_DISABLED: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: ["nothing was sent: flashing from Moonraker is off until the agent's config allows it"],
    next: [
      `add "allow_flash: true" to ${str(e, "configPath") ?? "~/printer_data/config/canflash.yaml"} and restart the agent`,
    ],
  }),
  AGENT_BUSY: () => ({
    exitCode: ExitCode.BUSY,
    causes: ["nothing was sent: one flash job at a time"],
    next: ["wait for job_finished, or call cancel"],
  }),
  AGENT_BAD_ARGUMENTS: () => ({
    exitCode: ExitCode.USAGE,
    causes: ["nothing was sent"],
    next: ['e.g. {"mcus": ["EBBCan"]} or no arguments for every board'],
  }),
  AGENT_METHOD_NOT_FOUND: () => ({
    exitCode: ExitCode.USAGE,
    causes: ["the method is not one the agent has"],
    next: ["methods: status, plan, flash, cancel, job"],
  }),
  AGENT_CONFIG: () => ({
    exitCode: ExitCode.USAGE,
    causes: ["the agent's config file is not valid; nothing was started"],
    next: ["keys: allow_flash, firmware, boards, interface, klipper_service, jobs, printer_config"],
  }),
  KLIPPY_NOT_READY: () => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "a board did not come back with the firmware Klipper expects, or printer.cfg has an error",
    ],
    next: ["look at klippy.log; FIRMWARE_RESTART from the console once the boards are up"],
  }),
  JOB_CANCELLED: () => ({
    exitCode: ExitCode.INTERRUPTED,
    causes: ["nothing was sent"],
    next: [],
  }),
} satisfies HintTable;

// The Klipper guard's decisions, in words.

import type { KlipperEvent } from "../../flasher/guard.js";
import { ExitCode } from "../exit-codes.js";
import type { Explained } from "../hints/index.js";

export function klipperEventText(e: KlipperEvent): { text: string; error?: Explained } {
  switch (e.action) {
    case "left-alone":
      return { text: "Klipper is running, but holds none of these boards: it is left alone" };
    case "would-stop":
      return {
        text: `Dry run: would stop Klipper (it holds ${e.boards.join(", ")}) and start it again afterwards`,
      };
    case "stopping":
      return { text: `Stopping Klipper (it holds ${e.boards.join(", ")})...` };
    case "stopped":
      return { text: `Klipper stopped (via ${e.via}); it is started again when canflash finishes` };
    case "stays-stopped":
      return {
        text: "Klipper stays stopped while the board waits in its bootloader: flash it, then sudo systemctl start klipper",
      };
    case "starting":
      return { text: "Starting Klipper..." };
    case "started":
      return {
        text:
          e.state === "ready" || e.state === "running"
            ? `Klipper started (via ${e.via}): ${e.state}`
            : `Klipper started (via ${e.via}) but reports "${e.state ?? "no state yet"}": check Mainsail/Fluidd (a board on new firmware may need FIRMWARE_RESTART)`,
      };
    case "start-failed": {
      const f = e.error as { action?: string; service?: string };
      return {
        text: e.error.message,
        error: {
          exitCode: ExitCode.FAILURE,
          message: e.error.message,
          causes: [],
          next: [`sudo systemctl start ${f.service ?? "klipper"}`],
        },
      };
    }
  }
}

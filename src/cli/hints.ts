// Error → explanation for people: what happened, the likely causes, and the
// next command to run. The library's errors carry facts; wording lives here.

import { FlashError } from "../flasher/errors.js";
import { CanflashError } from "../util/errors.js";
import { ExitCode, type ExitCodeValue } from "./exit-codes.js";
import { UsageError } from "./usage-error.js";

export interface Explained {
  exitCode: ExitCodeValue;
  message: string;
  causes: string[];
  next: string[];
}

interface Ctx {
  iface: string;
  /** The command line to retry with, e.g. "canflash -i can0 -u aabbccddeeff klipper.bin". */
  retry?: string;
}

function field<T>(e: unknown, name: string): T | undefined {
  return (e as Record<string, unknown> | undefined)?.[name] as T | undefined;
}

/** Explains any error thrown by a command. */
export function explain(error: unknown, ctx: Ctx): Explained {
  if (error instanceof FlashError) {
    const inner = explain(error.cause, ctx);
    const avr = error.protocol.startsWith("stk500");
    const state =
      error.deviceState === "in-bootloader" && avr
        ? "canflash did not end programming mode, but an AVR bootloader starts the application by itself after about a second of silence: the board may now run a partial image. Flash again: opening the port resets it back into the bootloader."
        : error.deviceState === "in-bootloader"
          ? "The board stays in its bootloader and will not start the partially written firmware."
          : error.deviceState === "untouched"
            ? "Nothing was written to the board."
            : "The firmware was verified, but starting it did not confirm; power-cycle the board if it does not come up.";
    return {
      ...inner,
      message: `${error.phase} failed: ${inner.message}`,
      causes: [state, ...inner.causes],
      next: inner.next.length ? inner.next : ctx.retry ? [`retry: ${ctx.retry}`] : [],
    };
  }
  if (error instanceof UsageError) {
    return {
      exitCode: ExitCode.USAGE,
      message: error.message,
      causes: [],
      next: error.fix ? [error.fix] : [],
    };
  }
  if (!(error instanceof CanflashError)) {
    return {
      exitCode: ExitCode.FAILURE,
      message: error instanceof Error ? error.message : String(error),
      causes: [],
      next: [],
    };
  }
  const iface = field<string>(error, "iface") ?? ctx.iface;
  const retry = ctx.retry ? [`then retry: ${ctx.retry}`] : [];
  switch (error.code) {
    case "INVALID_UUID":
    case "CAN_INVALID_FRAME":
      return {
        exitCode: ExitCode.USAGE,
        message: error.message,
        causes: [],
        next: [`list the nodes: canflash -i ${ctx.iface} -q`],
      };
    case "CAN_INTERFACE_DOWN":
      return {
        exitCode: ExitCode.INTERFACE,
        message: error.message,
        causes: [],
        next: [
          `sudo ip link set ${iface} up type can bitrate 1000000`,
          `sudo ip link set ${iface} txqueuelen 128`,
          ...retry,
        ],
      };
    case "CAN_NO_SUCH_INTERFACE":
      return {
        exitCode: ExitCode.INTERFACE,
        message: error.message,
        causes: [
          "the USB-CAN adapter (or USB-to-CAN bridge board) is unplugged or not flashed yet",
          "a typo in -i",
        ],
        next: ["see what exists: canflash doctor", "try the demo bus: canflash -i sim -q"],
      };
    case "CAN_NOT_CAN_INTERFACE":
      return {
        exitCode: ExitCode.INTERFACE,
        message: error.message,
        causes: [],
        next: ["list CAN interfaces: canflash doctor"],
      };
    case "CAN_NOT_LINUX":
    case "CAN_KERNEL_UNSUPPORTED":
      return {
        exitCode: ExitCode.INTERFACE,
        message: error.message,
        causes: ["SocketCAN needs a Linux kernel with CAN support (can, can-raw modules)"],
        next: ["sudo modprobe can-raw", "or try the demo bus: canflash -i sim -q"],
      };
    case "CAN_ADDON_MISSING":
      return {
        exitCode: ExitCode.INTERFACE,
        message: error.message,
        causes: [
          "the optional socketcan package did not build when canflash was installed (it needs python3, make and g++)",
        ],
        next: ["sudo apt-get install -y python3 make g++ && npm rebuild socketcan"],
      };
    case "CAN_PERMISSION_DENIED":
      return {
        exitCode: ExitCode.INTERFACE,
        message: error.message,
        causes: [
          `the kernel supports CAN and ${iface} is up, so a security policy refused the socket (container, snap or seccomp sandbox)`,
        ],
        next: ["run canflash outside the sandbox, or grant it network (CAN) access"],
      };
    case "CAN_SEND_TIMEOUT":
      return {
        exitCode: ExitCode.FAILURE,
        message: error.message,
        causes: [
          "no other powered node acknowledges frames (every CAN frame needs an ACK)",
          "the bitrate differs from the nodes'",
          "missing 120 Ω termination",
          "the controller is bus-off",
        ],
        next: [`check the bus: canflash doctor`, `ip -details -statistics link show ${iface}`],
      };
    case "NO_NODE":
      return {
        exitCode: ExitCode.NO_NODE,
        message: error.message,
        causes: [
          "the board is not powered, or CAN H/L are swapped or unterminated",
          `the board runs at another bitrate than ${iface}`,
          "the UUID is mistyped (compare canflash -q and canbus_uuid in printer.cfg)",
          "its Klipper predates 2022-04 and ignores the bootloader request: double-tap reset to enter Katapult",
        ],
        next: [`list the nodes: canflash -i ${ctx.iface} -q`],
      };
    case "BOOTLOADER_ENTRY_TIMEOUT":
      return {
        exitCode: ExitCode.NO_NODE,
        message: error.message,
        causes: [
          "Katapult is not installed on this board (Klipper then falls back to the chip's own bootloader)",
          "Katapult was built for another CAN bitrate",
        ],
        next: [
          "double-tap the board's reset button to enter Katapult, then retry",
          "see the board's bootloader: canflash targets",
        ],
      };
    case "KATAPULT_WEDGED":
      return {
        exitCode: ExitCode.FAILURE,
        message: error.message,
        causes: [
          "a frame reached the bootloader damaged; Katapult then ignores all input until it is reset",
        ],
        next: ["power-cycle the board, or double-tap its reset button to enter Katapult", ...retry],
      };
    case "KATAPULT_NO_RESPONSE":
      return {
        exitCode: ExitCode.FAILURE,
        message: error.message,
        causes: [
          "the board reset or lost power",
          "another host (a running Klipper) reassigned its node id",
        ],
        next: ["double-tap the board's reset button to enter Katapult", ...retry],
      };
    case "VERIFY_MISMATCH":
      return {
        exitCode: ExitCode.VERIFY_MISMATCH,
        message: error.message,
        causes: ["a write did not stick (worn or protected flash), or a frame was corrupted"],
        next: [
          "run the same command again; if it fails at the same address, the flash may be damaged",
          ...retry.slice(1),
        ],
      };
    case "IMAGE_FORMAT":
    case "IMAGE_EMPTY":
    case "IMAGE_NOT_FIRMWARE":
    case "IMAGE_UNSUPPORTED":
    case "IMAGE_OVERLAP":
    case "IMAGE_TOO_LARGE":
    case "IMAGE_NEEDS_BASE":
    case "IMAGE_OUT_OF_RANGE":
    case "IMAGE_READ": {
      const fix = field<string>(error, "fix");
      return {
        exitCode: ExitCode.USAGE,
        message: error.message,
        causes: [],
        next: fix ? [fix] : ["rebuild the firmware (make in ~/klipper) and flash out/klipper.bin"],
      };
    }
    case "AVR_NO_ANSWER": {
      const pulsed = field<boolean>(error, "resetPulsed");
      return {
        exitCode: ExitCode.NO_NODE,
        message: error.message,
        causes: [
          ...(pulsed
            ? []
            : ["press the board's reset button, then run canflash within the listen window"]),
          `the bootloader runs at another baud rate than ${field<number>(error, "baud")} (-b, or the right --target: canflash targets)`,
          "the board has no Arduino bootloader (it was programmed over ISP)",
          "the port is not this board (check /dev/serial/by-id/)",
        ],
        next: retry.length
          ? retry
          : ["canflash targets — the baud rate and listen window per board"],
      };
    }
    case "AVR_WRONG_TARGET": {
      const expected = field<string>(error, "expectedTarget")!;
      const suggested = field<string[]>(error, "suggestedTargets") ?? [];
      const port = field<string>(error, "port")!;
      const foundBaud = field<number>(error, "foundBaud")!;
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
        message: error.message,
        causes: [
          suggested.includes(expected)
            ? `-b ${field<number>(error, "expectedBaud")} is not this bootloader's speed: it answers at ${foundBaud} baud (leave -b out: the target knows it)`
            : "the board was picked wrongly, or it carries another bootloader than the usual one for it",
        ],
        next: suggested.length
          ? suggested.map(withTarget)
          : [
              "canflash targets — no row fits what answered; flash it with avrdude and report the board",
            ],
      };
    }
    case "AVR_SIGNATURE":
      return {
        exitCode: ExitCode.REFUSED,
        message: error.message,
        causes: ["nothing was written"],
        next: ["pick the target of the chip that answered: canflash targets"],
      };
    case "STK500_PROTOCOL":
      return {
        exitCode: ExitCode.FAILURE,
        message: error.message,
        causes: ["the line is noisy, or the baud rate is off by more than the UART tolerates"],
        next: retry,
      };
    case "KLIPPER_HOLDS_BOARDS":
      return {
        exitCode: ExitCode.BUSY,
        message: error.message,
        causes: ["nothing was sent"],
        next: [
          ctx.retry
            ? `let canflash stop and restart Klipper: ${ctx.retry.replace(/^canflash /, "canflash --stop-klipper ")}`
            : "add --stop-klipper: canflash stops Klipper, flashes, and starts it again",
          "or stop it yourself first: sudo systemctl stop klipper",
        ],
      };
    case "KLIPPER_PRINTING":
      return {
        exitCode: ExitCode.BUSY,
        message: error.message,
        causes: ["nothing was sent; Klipper keeps running"],
        next: ["wait for the print to finish (or cancel it), then retry"],
      };
    case "KLIPPER_CONTROL":
      return {
        exitCode: ExitCode.BUSY,
        message: error.message,
        causes: ["nothing was sent"],
        next: [field<string>(error, "fix") ?? "sudo systemctl stop klipper", ...retry],
      };
    case "PREFLIGHT_MCU":
    case "PREFLIGHT_BITRATE":
    case "PREFLIGHT_TRANSPORT":
    case "PREFLIGHT_OFFSET":
      return {
        exitCode: ExitCode.REFUSED,
        message: error.message,
        causes: ["nothing was written"],
        next: [field<string>(error, "fix") ?? "rebuild the firmware for this board"],
      };
    case "IMAGE_BELOW_APP_START":
    case "IMAGE_DOES_NOT_FIT":
    case "KATAPULT_BLOCK_SIZE":
      return {
        exitCode: ExitCode.REFUSED,
        message: error.message,
        causes: [],
        next: [
          "rebuild Klipper with the bootloader offset and flash size of this board (make menuconfig)",
        ],
      };
    case "UUID_MISMATCH":
      return {
        exitCode: ExitCode.FAILURE,
        message: error.message,
        causes: ["two hosts are assigning node ids on this bus (is Klipper running?)"],
        next: ["sudo systemctl stop klipper", ...retry],
      };
    case "UNKNOWN_TARGET":
      return {
        exitCode: ExitCode.USAGE,
        message: error.message,
        causes: [],
        next: ["list them: canflash targets"],
      };
    case "PORT_IN_USE": {
      const holders =
        field<Array<{ pid: number; command: string; cmdline: string }>>(error, "holders") ?? [];
      const klipper = holders.some((h) => /klipp|klippy|moonraker/i.test(h.cmdline));
      return {
        exitCode: ExitCode.INTERFACE,
        message: error.message,
        causes: holders.map((h) => `PID ${h.pid}: ${h.cmdline || h.command}`),
        next: klipper
          ? ["sudo systemctl stop klipper", ...retry]
          : ["stop the program holding the port (or kill the PID above)", ...retry],
      };
    }
    case "PORT_NOT_FOUND":
      return {
        exitCode: ExitCode.INTERFACE,
        message: error.message,
        causes: ["the board is unplugged, or re-enumerated under another name"],
        next: [
          "list the serial devices: ls -l /dev/serial/by-id/",
          "see what exists: canflash doctor",
        ],
      };
    case "PORT_PERMISSION_DENIED":
      return {
        exitCode: ExitCode.INTERFACE,
        message: error.message,
        causes: ["your user is not in the dialout group"],
        next: ["sudo usermod -aG dialout $USER   (then log out and in)"],
      };
    case "SERIAL_ADDON_MISSING":
      return {
        exitCode: ExitCode.INTERFACE,
        message: error.message,
        causes: ["the optional serialport package did not install its native part"],
        next: ["npm rebuild @serialport/bindings-cpp"],
      };
    case "USB_REENUMERATION_TIMEOUT":
      return {
        exitCode: ExitCode.NO_NODE,
        message: error.message,
        causes: [
          "Katapult is not installed, so the board fell back to the chip's own bootloader (see canflash targets)",
          "the USB cable or hub dropped the device",
        ],
        next: [
          "double-tap the board's reset button, then flash the Katapult tty that appears",
          ...retry,
        ],
      };
    case "ABORTED":
      return {
        exitCode: ExitCode.INTERRUPTED,
        message: "interrupted",
        causes: [],
        next: ctx.retry ? [`to finish: ${ctx.retry}`] : [],
      };
    default:
      return { exitCode: ExitCode.FAILURE, message: error.message, causes: [], next: retry };
  }
}

// Hints for the CAN layer: interfaces, sockets, the bus itself.

import { ExitCode } from "../exit-codes.js";
import { list, num, retryLine, str, type HintTable } from "./types.js";

const ifaceOf = (e: Record<string, unknown>, fallback: string) =>
  typeof e.iface === "string" ? e.iface : fallback;

export const canHints = {
  CAN_INTERFACE_DOWN: (e, ctx) => {
    const iface = ifaceOf(e, ctx.iface);
    return {
      exitCode: ExitCode.INTERFACE,
      next: [
        `sudo ip link set ${iface} up type can bitrate 1000000`,
        `sudo ip link set ${iface} txqueuelen 128`,
        ...retryLine(ctx),
      ],
    };
  },
  CAN_NO_SUCH_INTERFACE: (e) => {
    const userspace = list(e, "userspace");
    return {
      exitCode: ExitCode.INTERFACE,
      causes: userspace.length
        ? [
            "no kernel driver made a CAN interface of the adapter (macOS, Windows, an OS image without gs_usb); canflash can drive it from userspace",
          ]
        : [
            "the USB-CAN adapter (or USB-to-CAN bridge board) is unplugged or not flashed yet",
            "a typo in -i",
          ],
      next: [
        ...userspace.map((u) => `use the adapter from userspace: canflash -i ${u} -q`),
        "see what exists: canflash doctor",
        "try the demo bus: canflash -i sim -q",
      ],
    };
  },
  CAN_NOT_CAN_INTERFACE: () => ({
    exitCode: ExitCode.INTERFACE,
    next: ["list CAN interfaces: canflash doctor"],
  }),
  CAN_NOT_LINUX: () => ({
    exitCode: ExitCode.INTERFACE,
    causes: ["SocketCAN needs a Linux kernel with CAN support (can, can-raw modules)"],
    next: ["try the demo bus: canflash -i sim -q"],
  }),
  CAN_KERNEL_UNSUPPORTED: () => ({
    exitCode: ExitCode.INTERFACE,
    causes: ["SocketCAN needs a Linux kernel with CAN support (can, can-raw modules)"],
    next: ["sudo modprobe can-raw", "or try the demo bus: canflash -i sim -q"],
  }),
  CAN_PERMISSION_DENIED: (e, ctx) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      `the kernel supports CAN and ${ifaceOf(e, ctx.iface)} is up, so a security policy refused the socket (container, snap or seccomp sandbox)`,
    ],
    next: ["run canflash outside the sandbox, or grant it network (CAN) access"],
  }),
  CAN_OPEN_FAILED: (e, ctx) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      e.cause instanceof Error ? `the kernel said: ${e.cause.message}` : "the socket call failed",
    ],
    next: [`check the interface: canflash doctor`, ...retryLine(ctx)],
  }),
  CAN_SEND_TIMEOUT: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "no other powered node acknowledges frames (every CAN frame needs an ACK)",
      "the bitrate differs from the nodes'",
      "missing 120 Ω termination",
      "the controller is bus-off",
    ],
    next: [
      "check the bus: canflash doctor",
      `ip -details -statistics link show ${ifaceOf(e, ctx.iface)}`,
    ],
  }),
  CAN_BUS_STOPPED: (e, ctx) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      "the interface went down or was removed (adapter unplugged, the bridge board rebooted, ip link set down)",
    ],
    next: [
      `check it: ip -details link show ${ifaceOf(e, ctx.iface)}`,
      "canflash doctor",
      ...retryLine(ctx),
    ],
  }),
  CAN_BUS_CLOSED: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["the bus was closed while still in use (Ctrl-C, or a bug: please report it)"],
    next: retryLine(ctx),
  }),
  CAN_RECEIVE_OVERFLOW: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["frames arrived faster than canflash read them (a very busy bus, or a slow host)"],
    next: ["stop other traffic on the bus (Klipper), then retry", ...retryLine(ctx)],
  }),
  CAN_INVALID_FRAME: (_e, ctx) => ({
    exitCode: ExitCode.USAGE,
    next: [`list the nodes: canflash -i ${ctx.iface} -q`],
  }),
  ADDON_MISSING: (e) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      `the optional ${str(e, "addon")} package did not build its native part when canflash was installed (it needs python3, make and g++)`,
    ],
    next: [
      `sudo apt-get install -y python3 make g++ && npm rebuild ${str(e, "nativePackage") ?? str(e, "addon")}`,
    ],
  }),
  SLCAN_BAD_INTERFACE: () => ({
    exitCode: ExitCode.USAGE,
    causes: ["nothing was sent"],
    next: [
      "name the adapter's serial port: -i slcan:/dev/ttyACM0 (add @<tty baud> for a UART adapter, ,bitrate=500000 for another bus speed)",
    ],
  }),
  SLCAN_NO_ANSWER: (e) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      `${str(e, "path") ?? "the port"} is not an slcan adapter (a board's own USB serial, a gs_usb/candleLight adapter)`,
      `a UART adapter set to another baud than ${num(e, "ttyBaud") ?? "the one given"} (give it as slcan:<port>@<baud>)`,
    ],
    next: ["list the serial devices: ls -l /dev/serial/by-id/", "canflash doctor"],
  }),
  SLCAN_REFUSED: (e) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      str(e, "command")?.startsWith("S") || str(e, "command")?.startsWith("s")
        ? "the adapter does not support this bitrate command (try btr=<BTR0BTR1> for its clock)"
        : "the adapter's channel is held open or in a state it will not leave (unplug and replug it)",
    ],
    next: ["unplug and replug the adapter, then retry"],
  }),
  SLCAN_ADAPTER_SILENT: (_e, ctx) => ({
    exitCode: ExitCode.INTERFACE,
    causes: ["the adapter was unplugged, reset, or hung"],
    next: ["unplug and replug the adapter", ...retryLine(ctx)],
  }),
  SLCAN_FRAME_LOST: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the adapter's transmit queue overflowed: the bus is slower than the serial link, or nothing acknowledges frames (bitrate, termination, no powered node)",
    ],
    next: ["check the bus: bitrate of every node, 120 Ω termination, CAN H/L", ...retryLine(ctx)],
  }),
  SLCAN_RX_OVERRUN: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the adapter received more frames than its serial link carries (a busy bus, or a UART adapter at a low tty baud)",
    ],
    next: [
      "stop other traffic on the bus (Klipper), or raise the adapter's tty baud (slcan:<port>@921600)",
      ...retryLine(ctx),
    ],
  }),
  GS_USB_BAD_INTERFACE: () => ({
    exitCode: ExitCode.USAGE,
    causes: ["nothing was sent"],
    next: [
      "name the adapter: -i gs_usb: (the first one), -i gs_usb:1d50:606f, or -i gs_usb:<USB serial>; add ,bitrate=500000 for another bus speed",
    ],
  }),
  GS_USB_NOT_FOUND: (e) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      "the candleLight adapter or Klipper USB-to-CAN bridge is unplugged, or not flashed yet",
      `it is not on the ${str(e, "backend") ?? "chosen"} USB backend (CANFLASH_USB_BACKEND, CANFLASH_USB_SOCKETS)`,
    ],
    next: ["list the USB devices: lsusb", "canflash doctor"],
  }),
  GS_USB_NOT_GS_USB: () => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      "the device with these ids is not a gs_usb adapter (another firmware, a board in its bootloader)",
      "on Linux the kernel's gs_usb driver may hold it: then use its SocketCAN interface (-i can0)",
    ],
    next: ["ip -details link show type can", "canflash doctor"],
  }),
  GS_USB_BITRATE: (e) => ({
    exitCode: ExitCode.USAGE,
    causes: [
      `the adapter's CAN clock (${num(e, "fclkCan") ?? "?"} Hz) divides into no exact bit timing for ${num(e, "bitrate") ?? "this"} bit/s`,
    ],
    next: ["use a standard rate: -i gs_usb:,bitrate=1000000 (or 500000, 250000)"],
  }),
  GS_USB_KERNEL_HELD: (e) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      "the kernel already drives this adapter; taking it to userspace would remove its interface (and Klipper's bus)",
    ],
    next: [`use the kernel's interface: canflash -i ${str(e, "netdev") ?? "can0"} -q`],
  }),
  GS_USB_FRAME_LOST: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      str(e, "reason") === "not-taken"
        ? "the adapter's transmit queue stayed full: the bus is not taking frames (nothing acknowledges them, bus-off)"
        : "the adapter never confirmed the frame left: nothing acknowledges frames (bitrate, termination, no powered node) or the bus went bus-off",
    ],
    next: ["check the bus: bitrate of every node, 120 Ω termination, CAN H/L", ...retryLine(ctx)],
  }),
  GS_USB_TX_OVERFLOW: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the adapter could not put frames on the bus as fast as they came: the bus is busy, or nothing acknowledges frames (bitrate, termination, no powered node)",
    ],
    next: [
      "stop other traffic on the bus (Klipper); check the bitrate of every node and the 120 Ω termination",
      ...retryLine(ctx),
    ],
  }),
  GS_USB_RX_OVERFLOW: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the adapter received more frames than it could hand to the host (a busy bus, a slow USB host)",
    ],
    next: ["stop other traffic on the bus (Klipper)", ...retryLine(ctx)],
  }),
} satisfies HintTable;

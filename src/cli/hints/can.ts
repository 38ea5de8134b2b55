// Hints for the CAN layer: interfaces, sockets, the bus itself.

import { ExitCode } from "../exit-codes.js";
import { retryLine, str, type HintTable } from "./types.js";

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
  CAN_NO_SUCH_INTERFACE: () => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      "the USB-CAN adapter (or USB-to-CAN bridge board) is unplugged or not flashed yet",
      "a typo in -i",
    ],
    next: ["see what exists: canflash doctor", "try the demo bus: canflash -i sim -q"],
  }),
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
} satisfies HintTable;

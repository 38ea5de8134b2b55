// Hints for the USB seam (every USB bootloader: DFU, HID, HalfKay, PICOBOOT).

import { ExitCode } from "../exit-codes.js";
import { num, retryLine, str, type HintTable } from "./types.js";

const hex4 = (n: number | undefined) => (n ?? 0).toString(16).padStart(4, "0");

export const usbHints = {
  USB_STALL: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the device refused the request (a bootloader answers a bad address, a protected region or a wrong state with a STALL)",
      "the image does not fit the bootloader's memory layout",
    ],
    next: retryLine(ctx),
  }),
  USB_TIMEOUT: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["the device stopped answering (a hub or cable problem, or the bootloader hung)"],
    next: [
      "unplug and replug the board (or press reset) to start its bootloader again",
      ...retryLine(ctx),
    ],
  }),
  USB_NO_DEVICE: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["the device was unplugged or re-enumerated in the middle of the operation"],
    next: ["check that it shows up again: canflash doctor", ...retryLine(ctx)],
  }),
  USB_IO: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: ["a USB I/O error (cable, hub or power)"],
    next: retryLine(ctx),
  }),
  USB_ACCESS: (e) => {
    const vid = hex4(num(e, "vendorId"));
    const pid = hex4(num(e, "productId"));
    return {
      exitCode: ExitCode.INTERFACE,
      causes: [
        "this user may not open the device: no udev rule gives access to it",
        `add /etc/udev/rules.d/60-canflash.rules with the line: SUBSYSTEM=="usb", ATTR{idVendor}=="${vid}", ATTR{idProduct}=="${pid}", MODE="0660", GROUP="plugdev", TAG+="uaccess"`,
      ],
      next: [
        "sudo udevadm control --reload-rules && sudo udevadm trigger",
        "make sure your user is in the plugdev group (groups), then unplug and replug the board",
      ],
    };
  },
  USB_BACKEND_MISSING: (e) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [str(e, "reason") ?? "the backend could not be loaded"],
    next: str(e, "pkg")
      ? [`npm install ${str(e, "pkg")} (an optional dependency of canflash)`]
      : [],
  }),
  USB_DEVICE_NOT_FOUND: () => ({
    exitCode: ExitCode.NO_NODE,
    causes: [
      "the board is not in its bootloader (press the BOOT button while plugging it in, or double-tap reset)",
      "the cable carries power only, or the board is on another host",
    ],
    next: ["canflash doctor   (lists the USB devices canflash sees)"],
  }),
} satisfies HintTable;

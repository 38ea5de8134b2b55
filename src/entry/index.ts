// Entry strategies (esptool-js's ResetStrategy idea): the ways a board gets
// from its application into its bootloader, keyed by the device table's
// `entry` names. A row lists its entries in order; a driver asks for the
// first automatic one that fits the link it has, and names the manual ones
// (double-tap reset, boot pins) when none fits. Every name of the table's
// Entry enum has a line here, or this does not compile.

import type { Entry, Target } from "../targets/index.js";

export { CanBootloaderGate, waitForKatapult } from "./can-request.js";
export type { GateArrival, GateOptions, RequestReason } from "./can-request.js";

/** Where the board is reached: a CAN bus, a USB CDC port, a UART, an open serial link. */
export type EntryLink = "can" | "usb-cdc" | "uart" | "serial";

export interface EntryInfo {
  /** canflash can do it (false: a person must). */
  automatic: boolean;
  /** The links it works over. */
  links: readonly EntryLink[];
  /** What a real run would do, for dry runs: "request its bootloader". */
  wouldDo: string;
}

export const ENTRIES: Readonly<Record<Entry, EntryInfo>> = {
  "can-request": { automatic: true, links: ["can"], wouldDo: "request its bootloader over CAN" },
  "1200-baud-touch": {
    automatic: true,
    links: ["usb-cdc"],
    wouldDo: "do a 1200-baud touch to enter the bootloader",
  },
  "serial-request": {
    automatic: true,
    links: ["uart"],
    wouldDo: "send Klipper's serial bootloader request",
  },
  "dtr-rts-reset": {
    automatic: true,
    links: ["serial", "uart", "usb-cdc"],
    wouldDo: "reset it into the bootloader with a DTR/RTS pulse",
  },
  "double-reset": { automatic: false, links: [], wouldDo: "wait for a double-tap of reset" },
  "boot-pins": { automatic: false, links: [], wouldDo: "wait for the boot pins to be set" },
  button: { automatic: false, links: [], wouldDo: "wait for the bootloader button" },
  "play-button": { automatic: false, links: [], wouldDo: "wait for the play button" },
  "erase-pin": { automatic: false, links: [], wouldDo: "wait for the erase jumper" },
  "card-insert": { automatic: false, links: [], wouldDo: "wait for the SD card" },
  bootsel: { automatic: false, links: [], wouldDo: "wait for the BOOTSEL drive" },
  swd: { automatic: false, links: [], wouldDo: "program over SWD" },
  // Klipper's flash-sdcard: no entry of its own (the driver writes the card
  // through the running Klipper, then resets it); never guessed for a tty.
  "klipper-reset": {
    automatic: false,
    links: [],
    wouldDo: "write the SD card through the running Klipper, then reset the board",
  },
};

/** The first automatic entry of the row that works over `link`. */
export function pickEntry(t: Target, link: EntryLink): Entry | undefined {
  return t.entry.find((e) => ENTRIES[e].automatic && ENTRIES[e].links.includes(link));
}

/** The row's entries a person must do. */
export function manualEntries(t: Target): Entry[] {
  return t.entry.filter((e) => !ENTRIES[e].automatic);
}

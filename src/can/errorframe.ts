// Decoding of Linux SocketCAN error frames (linux/can/error.h) into a bus
// state and readable flags. Pure.

import type { CanFrame } from "./frame.js";

export type BusState =
  "error-active" | "error-warning" | "error-passive" | "bus-off" | "stopped" | "unknown";

// Error class bits in the id of an error frame.
export const CAN_ERR_TX_TIMEOUT = 0x1;
export const CAN_ERR_LOSTARB = 0x2;
export const CAN_ERR_CRTL = 0x4;
export const CAN_ERR_PROT = 0x8;
export const CAN_ERR_TRX = 0x10;
export const CAN_ERR_ACK = 0x20;
export const CAN_ERR_BUSOFF = 0x40;
export const CAN_ERR_BUSERROR = 0x80;
export const CAN_ERR_RESTARTED = 0x100;
export const CAN_ERR_CNT = 0x200;

// Controller status in data[1] when CAN_ERR_CRTL is set.
export const CAN_ERR_CRTL_RX_OVERFLOW = 0x01;
export const CAN_ERR_CRTL_TX_OVERFLOW = 0x02;
export const CAN_ERR_CRTL_RX_WARNING = 0x04;
export const CAN_ERR_CRTL_TX_WARNING = 0x08;
export const CAN_ERR_CRTL_RX_PASSIVE = 0x10;
export const CAN_ERR_CRTL_TX_PASSIVE = 0x20;
export const CAN_ERR_CRTL_ACTIVE = 0x40;

/** The state an error frame reports, or undefined when it says nothing about state. */
export function busStateFromErrorFrame(frame: CanFrame): BusState | undefined {
  if (!frame.error) return undefined;
  if (frame.id & CAN_ERR_BUSOFF) return "bus-off";
  if (frame.id & CAN_ERR_RESTARTED) return "error-active";
  if (frame.id & CAN_ERR_CRTL) {
    const status = frame.data[1] ?? 0;
    if (status & (CAN_ERR_CRTL_RX_PASSIVE | CAN_ERR_CRTL_TX_PASSIVE)) return "error-passive";
    if (status & (CAN_ERR_CRTL_RX_WARNING | CAN_ERR_CRTL_TX_WARNING)) return "error-warning";
    if (status & CAN_ERR_CRTL_ACTIVE) return "error-active";
  }
  return undefined;
}

const CLASS_NAMES: ReadonlyArray<[number, string]> = [
  [CAN_ERR_TX_TIMEOUT, "tx-timeout"],
  [CAN_ERR_LOSTARB, "lost-arbitration"],
  [CAN_ERR_CRTL, "controller"],
  [CAN_ERR_PROT, "protocol-violation"],
  [CAN_ERR_TRX, "transceiver"],
  [CAN_ERR_ACK, "no-ack"],
  [CAN_ERR_BUSOFF, "bus-off"],
  [CAN_ERR_BUSERROR, "bus-error"],
  [CAN_ERR_RESTARTED, "restarted"],
  [CAN_ERR_CNT, "counters"],
];

/** Names of the error classes set in an error frame, e.g. ["no-ack", "bus-error"]. */
export function errorClasses(frame: CanFrame): string[] {
  return CLASS_NAMES.filter(([bit]) => frame.id & bit).map(([, name]) => name);
}

/** Error counters carried in data[6]/data[7] when CAN_ERR_CNT is set. */
export function errorCounters(frame: CanFrame): { tx: number; rx: number } | undefined {
  if (!(frame.id & CAN_ERR_CNT)) return undefined;
  return { tx: frame.data[6] ?? 0, rx: frame.data[7] ?? 0 };
}

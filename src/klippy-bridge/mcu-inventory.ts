// The micro-controllers a printer.cfg names: every [mcu] and [mcu <name>]
// section with how Klippy reaches it — canbus_uuid on canbus_interface
// (default can0), or a serial device (with its baud). Klippy assigns CAN
// node ids 4, 5, 6 … in the order these sections carry a canbus_uuid.

import type { PrinterConfig } from "./printer-cfg.js";
import { parseUuid, type Uuid } from "./uuid.js";

export const KLIPPER_DEFAULT_CAN_INTERFACE = "can0";
/** The first node id Klippy's canbus_ids assigns. */
export const KLIPPER_FIRST_NODE_ID = 4;

export interface ConfiguredMcu {
  /** "mcu" or "mcu EBBCan". */
  section: string;
  /** The name Klipper uses in messages: "mcu" or "EBBCan". */
  name: string;
  file: string;
  line: number;
  canbusUuid?: Uuid;
  canbusInterface?: string;
  /** The node id Klippy will give it (by section order). */
  klipperNodeId?: number;
  serial?: string;
  baud?: number;
  restartMethod?: string;
  /** Something in the section that Klippy would reject. */
  problem?: string;
}

/** Every [mcu …] section, in config order. */
export function configuredMcus(config: PrinterConfig): ConfiguredMcu[] {
  const out: ConfiguredMcu[] = [];
  let nextNodeId = KLIPPER_FIRST_NODE_ID;
  for (const s of config.sections) {
    const m = /^mcu(?:\s+(\S.*))?$/.exec(s.name);
    if (!m) continue;
    const get = (k: string) => s.options.get(k)?.value;
    const mcu: ConfiguredMcu = {
      section: s.name,
      name: m[1]?.trim() ?? "mcu",
      file: s.file,
      line: s.line,
    };
    const uuid = get("canbus_uuid");
    const serial = get("serial");
    if (uuid !== undefined) {
      try {
        mcu.canbusUuid = parseUuid(uuid);
        mcu.canbusInterface = get("canbus_interface") ?? KLIPPER_DEFAULT_CAN_INTERFACE;
        mcu.klipperNodeId = nextNodeId++;
      } catch {
        mcu.problem = `canbus_uuid "${uuid}" is not 12 hex digits`;
      }
      if (serial !== undefined) mcu.problem ??= "both serial and canbus_uuid are set";
    }
    if (serial !== undefined) mcu.serial = serial;
    const baud = get("baud");
    if (baud !== undefined) {
      const n = Number(baud);
      if (Number.isInteger(n) && n > 0) mcu.baud = n;
      else mcu.problem ??= `baud "${baud}" is not a number`;
    }
    const restart = get("restart_method");
    if (restart !== undefined) mcu.restartMethod = restart;
    if (uuid === undefined && serial === undefined)
      mcu.problem ??= "neither serial nor canbus_uuid is set";
    out.push(mcu);
  }
  return out;
}

/** The configured MCU for a CAN UUID on an interface. */
export function mcuForUuid(
  mcus: readonly ConfiguredMcu[],
  uuid: Uuid,
  iface: string,
): ConfiguredMcu | undefined {
  return mcus.find((m) => m.canbusUuid === uuid && m.canbusInterface === iface);
}

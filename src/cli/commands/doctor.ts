// canflash doctor: what stands between this machine and a flash — each CAN
// interface (present, up, bitrate, txqueuelen, controller state, error
// counters), whether Klipper is running, and the serial devices with what
// they are and who holds them. Every finding comes with its fix.

import { readdir } from "node:fs/promises";
import { join } from "node:path";
import {
  listCanInterfaces,
  type CanInterfaceInfo,
  type ListInterfacesOptions,
} from "../../can/interfaces.js";
import { detectKlipper, type DetectOptions } from "../../klippy-bridge/klippy.js";
import { findPortHolders } from "../../transport/port-holders.js";
import { isKatapultUsb, isKlipperUsb, UsbTree } from "../../transport/usb-tree.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CommandContext } from "./context.js";

export interface Finding {
  level: "ok" | "warn" | "error";
  topic: string;
  message: string;
  fix?: string;
}

export interface DoctorOptions {
  interfaces?: ListInterfacesOptions;
  klipper?: DetectOptions;
  /** Where /dev/serial/by-id lives (tests). */
  devRoot?: string;
  sysfsRoot?: string;
  procRoot?: string;
}

/** Klipper's docs recommend txqueuelen 128 for CAN. */
export const RECOMMENDED_TXQUEUELEN = 128;

export function canFindings(i: CanInterfaceInfo): Finding[] {
  const f: Finding[] = [];
  const topic = i.name;
  if (!i.up) {
    f.push({
      level: "error",
      topic,
      message: `${i.name} is down`,
      fix: `sudo ip link set ${i.name} up type can bitrate 1000000`,
    });
    return f;
  }
  const parts = [`up`, i.bitrate ? `${i.bitrate} bit/s` : undefined, i.state, i.kind].filter(
    Boolean,
  );
  f.push({ level: "ok", topic, message: `${i.name}: ${parts.join(", ")}` });
  if (i.kind !== "vcan" && i.txQueueLen !== undefined && i.txQueueLen < RECOMMENDED_TXQUEUELEN) {
    f.push({
      level: "warn",
      topic,
      message: `${i.name} txqueuelen is ${i.txQueueLen} (recommended ${RECOMMENDED_TXQUEUELEN}): bursts can overflow it`,
      fix: `sudo ip link set ${i.name} txqueuelen ${RECOMMENDED_TXQUEUELEN}   (persist it in /etc/network/interfaces.d/${i.name} or a udev rule)`,
    });
  }
  if (i.state === "bus-off") {
    f.push({
      level: "error",
      topic,
      message: `${i.name} is bus-off: too many errors; it stopped transmitting`,
      fix:
        "check the bitrate of every node, the 120 Ω termination at both ends and CAN H/L wiring; then: sudo ip link set " +
        `${i.name} down && sudo ip link set ${i.name} up`,
    });
  } else if (i.state === "error-passive" || i.state === "error-warning") {
    f.push({
      level: "warn",
      topic,
      message: `${i.name} is ${i.state}${i.errorCounters ? ` (tx errors ${i.errorCounters.tx}, rx errors ${i.errorCounters.rx})` : ""}`,
      fix: "a node with the wrong bitrate, missing termination, or no other powered node on the bus",
    });
  }
  if (i.canStats && i.canStats.busOff > 0) {
    f.push({
      level: "warn",
      topic,
      message: `${i.name} went bus-off ${i.canStats.busOff} time(s) since it came up`,
      fix: "see above: bitrate, termination, wiring",
    });
  }
  return f;
}

export async function doctorCommand(o: DoctorOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  const findings: Finding[] = [];
  const ifaces = await listCanInterfaces(o.interfaces);
  if (ifaces.length === 0) {
    findings.push({
      level: "warn",
      topic: "can",
      message: "no CAN interfaces on this machine",
      fix: "plug in the USB-CAN adapter (or flash the USB-to-CAN bridge board); check `ip link show`; try the demo: canflash -i sim -q",
    });
  }
  for (const i of ifaces) findings.push(...canFindings(i));

  const k = await detectKlipper({ ...(o.procRoot ? { procRoot: o.procRoot } : {}), ...o.klipper });
  if (k.running) {
    const how = [
      k.processes.length ? `klippy PID ${k.processes.map((p) => p.pid).join(", ")}` : undefined,
      k.unit ? `systemd: ${k.unit}` : undefined,
      k.moonraker?.klippyState ? `Moonraker: ${k.moonraker.klippyState}` : undefined,
    ].filter(Boolean);
    findings.push({
      level: "warn",
      topic: "klipper",
      message: `Klipper is running (${how.join("; ")}): it holds its CAN nodes and serial ports`,
      fix: "stop it before flashing: sudo systemctl stop klipper   (or pass --stop-klipper)",
    });
  } else {
    findings.push({ level: "ok", topic: "klipper", message: "Klipper is not running" });
  }

  const tree = new UsbTree(o.sysfsRoot ?? "/sys", o.devRoot ?? "/dev");
  const byId = join(o.devRoot ?? "/dev", "serial", "by-id");
  const entries = await readdir(byId).catch(() => [] as string[]);
  for (const e of entries.sort()) {
    const path = join(byId, e);
    const tty = await tree.resolveTty(path);
    const what = tty?.usb
      ? isKatapultUsb(tty.usb)
        ? "Katapult (ready to flash)"
        : isKlipperUsb(tty.usb)
          ? "Klipper (canflash -d will 1200-baud touch it into Katapult)"
          : `${tty.usb.vid}:${tty.usb.pid} ${tty.usb.manufacturer} ${tty.usb.product}`.trim()
      : "serial device";
    const holders = await findPortHolders(path, o.procRoot);
    if (holders.length) {
      findings.push({
        level: "warn",
        topic: "serial",
        message: `${path}: ${what}; held by ${holders.map((h) => `${h.command} (PID ${h.pid})`).join(", ")}`,
        fix: holders.some((h) => /klipp/i.test(h.cmdline))
          ? "sudo systemctl stop klipper"
          : `stop PID ${holders.map((h) => h.pid).join(", ")}`,
      });
    } else findings.push({ level: "ok", topic: "serial", message: `${path}: ${what}` });
  }
  for (const b of await tree.bridges()) {
    findings.push({
      level: "ok",
      topic: b.iface,
      message: `${b.iface} is a Klipper USB-to-CAN bridge (USB ${b.usb.usbPath}, serial ${b.usb.serial}): flash it with -u like any node; canflash finishes over USB`,
    });
  }

  for (const f of findings) {
    const mark = f.level === "ok" ? "ok  " : f.level === "warn" ? "WARN" : "FAIL";
    ctx.out.finding(f, `${mark} ${f.message}${f.fix ? `\n     fix: ${f.fix}` : ""}`);
  }
  return findings.some((f) => f.level === "error") ? ExitCode.INTERFACE : ExitCode.OK;
}

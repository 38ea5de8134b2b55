// canflash doctor: what stands between this machine and a flash — the
// library examines the host (CAN interfaces, Klipper, serial devices,
// bridges); here each fact becomes a finding with its fix.

import {
  examineHost,
  type CanInterfaceInfo,
  type DoctorOptions,
  type SerialDeviceFact,
} from "../../flasher/doctor.js";
import { ExitCode, type ExitCodeValue } from "../exit-codes.js";
import type { CommandContext } from "./context.js";

export type { DoctorOptions };

export interface Finding {
  level: "ok" | "warn" | "error";
  topic: string;
  message: string;
  fix?: string;
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

function serialWhat(s: SerialDeviceFact): string {
  if (!s.usb) return "serial device";
  if (s.kind === "bootloader") return `${s.bootloader} (ready to flash)`;
  if (s.kind === "klipper") return "Klipper (canflash -d will 1200-baud touch it into Katapult)";
  return `${s.usb.vid}:${s.usb.pid} ${s.usb.manufacturer} ${s.usb.product}`.trim();
}

export async function doctorCommand(o: DoctorOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  const host = await examineHost(o);
  const findings: Finding[] = [];
  if (!host.kernelCan)
    findings.push({
      level: "error",
      topic: "kernel",
      message:
        "this kernel has no SocketCAN (the can and can-raw modules are neither loaded nor installed)",
      fix: "sudo modprobe can-raw; if there is no such module, install your kernel's extra modules (e.g. linux-modules-extra-$(uname -r)) or an image with CAN support",
    });
  if (host.interfaces.length === 0) {
    findings.push({
      level: "warn",
      topic: "can",
      message: "no CAN interfaces on this machine",
      fix:
        "plug in the USB-CAN adapter (or flash the USB-to-CAN bridge board); check `ip link show`. " +
        "A CAN HAT (MCP2515) needs its overlay in /boot/firmware/config.txt (older: /boot/config.txt), e.g. " +
        "dtoverlay=mcp2515-can0,oscillator=12000000,interrupt=25 (the oscillator is the HAT's crystal), then a reboot. " +
        "Try the demo meanwhile: canflash -i sim -q",
    });
  }
  for (const i of host.interfaces) findings.push(...canFindings(i));

  const k = host.klipper;
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

  for (const s of host.serial) {
    const what = serialWhat(s);
    if (s.holders.length) {
      findings.push({
        level: "warn",
        topic: "serial",
        message: `${s.path}: ${what}; held by ${s.holders.map((h) => `${h.command} (PID ${h.pid})`).join(", ")}`,
        fix: s.holders.some((h) => /klipp/i.test(h.cmdline))
          ? "sudo systemctl stop klipper"
          : `stop PID ${s.holders.map((h) => h.pid).join(", ")}`,
      });
    } else findings.push({ level: "ok", topic: "serial", message: `${s.path}: ${what}` });
  }
  for (const b of host.bridges) {
    findings.push({
      level: "ok",
      topic: b.iface,
      message: `${b.iface} is a Klipper USB-to-CAN bridge (USB ${b.usb.usbPath}, serial ${b.usb.serial}): flash it with -u like any node; canflash finishes over USB`,
    });
  }

  for (const u of host.usb)
    if (u.command)
      findings.push({
        level: "ok",
        topic: "usb",
        message: `USB ${u.usbId}${u.device.portPath ? ` at ${u.device.portPath}` : ""}${u.device.serialNumber ? ` (serial ${u.device.serialNumber})` : ""}: ${u.description}; flash it: ${u.command}`,
      });
  for (const g of host.gsUsb) {
    const what =
      `${g.klipperBridge ? "Klipper USB-to-CAN bridge" : "gs_usb CAN adapter"} ${g.device.product ?? ""} (USB ${g.usbId}${g.device.serialNumber ? `, serial ${g.device.serialNumber}` : ""})`.replace(
        "  ",
        " ",
      );
    if (g.kernelNetdev) {
      if (host.bridges.some((b) => b.iface === g.kernelNetdev)) continue; // reported above
      findings.push({
        level: "ok",
        topic: g.kernelNetdev,
        message: `${what}: the kernel's gs_usb driver holds it as ${g.kernelNetdev}; use -i ${g.kernelNetdev}`,
      });
    } else
      findings.push({
        level: "ok",
        topic: "gs_usb",
        message: `${what}: no kernel driver holds it; use it from userspace: -i ${g.iface}${g.klipperBridge ? " (a bridge runs at its build's rate; 1 Mbit/s is assumed, add ,bitrate=<bit/s> for another)" : ""}`,
      });
  }
  if (host.usbError)
    findings.push({
      level: "warn",
      topic: "usb",
      message: `USB devices could not be listed: ${host.usbError}`,
      fix: "npm install usb (canflash's optional dependency for USB bootloaders)",
    });

  for (const f of findings) {
    const mark = f.level === "ok" ? "ok  " : f.level === "warn" ? "WARN" : "FAIL";
    ctx.out.finding(f, `${mark} ${f.message}${f.fix ? `\n     fix: ${f.fix}` : ""}`);
  }
  // A problem is a non-zero exit, so scripts can stop: errors 5, warnings 1.
  return findings.some((f) => f.level === "error")
    ? ExitCode.INTERFACE
    : findings.some((f) => f.level === "warn")
      ? ExitCode.FAILURE
      : ExitCode.OK;
}

// USB boards in a bootloader of their own (DFU, the HID bootloader,
// HalfKay, PICOBOOT), as the orchestration sees them: how a user names one
// ("usb:0483:df11", "usb:<serial>", "usb:1-1.4", or just the row), which
// rows a USB id belongs to, and the listing behind `canflash -q` and
// `doctor`: every USB device in a bootloader mode this build knows, with
// what it is and the command that flashes it.

import { isSupported } from "../bootloaders/index.js";
import { table, targets, type Target } from "../targets/index.js";
import type { UsbBackend, UsbDeviceInfo, UsbSelector } from "../usb/device.js";
import { formatUsbId } from "../usb/device.js";
import { usbBackend } from "../usb/backends.js";

/** A USB board as a request names it. */
export interface UsbRequestLink {
  kind: "usb";
  /** As given: "usb:0483:df11", "usb:" (the row's USB ids). */
  spec: string;
  selector: UsbSelector;
  /** The backend by name (absent: CANFLASH_USB_BACKEND / CANFLASH_USB_SOCKETS / native). */
  backend?: string;
}

/** The request link of a "usb:…" device spec. */
export const usbRequestLink = (spec: string): UsbRequestLink => ({
  kind: "usb",
  spec,
  selector: parseUsbDeviceSpec(spec),
});

/** How a request link names its board in messages: the UUID, the tty, the usb: spec. */
export const linkLabel = (
  l: { kind: "can"; uuid: string } | { kind: "serial"; device: string } | UsbRequestLink,
): string => (l.kind === "can" ? l.uuid : l.kind === "usb" ? l.spec : l.device);

/** Transports of the rows flashed over a UsbLink. */
export const USB_BOOTLOADER_TRANSPORTS = ["usb-dfu", "usb-hid"] as const;

export const isUsbDeviceSpec = (text: string): boolean => /^usb(:|$)/i.test(text);

/**
 * "usb:" → {} (the row's ids); "usb:0483:df11" → the ids; "usb:1-1.4" → the
 * bus-port path; anything else after "usb:" → the serial number string.
 */
export function parseUsbDeviceSpec(text: string): UsbSelector {
  const rest = text.replace(/^usb:?/i, "");
  if (rest === "") return {};
  const ids = /^([0-9a-f]{4}):([0-9a-f]{4})$/i.exec(rest);
  if (ids) return { vendorId: parseInt(ids[1]!, 16), productId: parseInt(ids[2]!, 16) };
  if (/^\d+-\d+(\.\d+)*$/.test(rest)) return { portPath: rest };
  return { serialNumber: rest };
}

const isUsbRow = (t: Target): boolean =>
  t.transports.some((x) => (USB_BOOTLOADER_TRANSPORTS as readonly string[]).includes(x));

/** Rows this build flashes over USB whose ids match the selector's (all USB rows when it has none). */
export async function usbRowsFor(s: UsbSelector): Promise<Target[]> {
  const want = s.vendorId !== undefined ? formatUsbId(s.vendorId, s.productId ?? 0) : undefined;
  const out: Target[] = [];
  for (const t of targets())
    if (isUsbRow(t) && (!want || t.usbIds.includes(want)) && (await isSupported(t))) out.push(t);
  return out;
}

/** Does the row go over a UsbLink? */
export const isUsbTarget = isUsbRow;

/** The selectors that find the row's device: the given one, filled with each of the row's USB ids. */
export function selectorsFor(target: Target, s: UsbSelector): UsbSelector[] {
  if (s.vendorId !== undefined) return [s];
  return target.usbIds.map((id) => {
    const [v, p] = id.split(":").map((x) => parseInt(x, 16));
    return { ...s, vendorId: v!, productId: p! };
  });
}

/** One USB device in a bootloader mode (or an application) canflash recognises. */
export interface UsbBoardFound {
  device: UsbDeviceInfo;
  /** "0483:df11". */
  usbId: string;
  /** Rows that enumerate with this id, supported by this build. */
  targets: string[];
  /** What it is, in words: "ROM DfuSe (STM32F4 boards with working USB DFU)". */
  description: string;
  /** How to flash it (undefined for an application canflash does not flash over USB itself). */
  command?: string;
  /** An application (Klipper) rather than a bootloader. */
  application?: string;
}

/** Names a device by what selects it best: its serial where it has one, else its port path. */
function deviceSpec(d: UsbDeviceInfo, usbId: string, unique: boolean): string {
  if (unique) return `usb:${usbId}`;
  if (d.serialNumber) return `usb:${d.serialNumber}`;
  return d.portPath ? `usb:${d.portPath}` : `usb:${usbId}`;
}

/**
 * The USB devices of `backend` that are in a bootloader mode this build
 * knows (or run Klipper), with the command that flashes each. Sends only
 * the descriptor requests of a listing.
 */
export async function listUsbBoards(backend: UsbBackend = usbBackend()): Promise<UsbBoardFound[]> {
  const devices = await backend.list();
  const apps = [...table().applications.entries()];
  const out: UsbBoardFound[] = [];
  const count = new Map<string, number>();
  for (const d of devices) {
    const id = formatUsbId(d.vendorId, d.productId);
    count.set(id, (count.get(id) ?? 0) + 1);
  }
  for (const d of devices) {
    const usbId = formatUsbId(d.vendorId, d.productId);
    const rows = await usbRowsFor({ vendorId: d.vendorId, productId: d.productId });
    if (rows.length > 0) {
      const spec = deviceSpec(d, usbId, count.get(usbId) === 1);
      const first = rows[0]!;
      out.push({
        device: d,
        usbId,
        targets: rows.map((t) => t.id),
        description: `${first.bootloader} (${rows.map((t) => t.board).join("; ")})`,
        command: `canflash --target ${rows.length === 1 ? first.id : `<${rows.map((t) => t.id).join("|")}>`} -d ${spec} ${first.imageFormat === "ihex" ? "out/klipper.elf.hex" : "out/klipper.bin"}`,
      });
      continue;
    }
    const app = apps.find(([, a]) => a.usbIds.includes(usbId));
    if (app)
      out.push({
        device: d,
        usbId,
        targets: [],
        description: app[1].name,
        application: app[0],
      });
  }
  return out;
}

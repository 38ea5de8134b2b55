// The DFU drivers (dfu-util's job): "dfuse" for the STM32 ROM bootloader
// (0483:df11), "dfu" for plain DFU 1.1 (stm32duino 1eaf:0003, LPC176x
// 1d50:6015), over a USB link — or from a tty running Klipper's USB build,
// touched at 1200 baud into the bootloader and followed there. Status connects and reports what the
// device's descriptors and state say; the board stays in its bootloader.
// A probe only lists devices (descriptor requests), never claims one.

import {
  driverContext,
  type BootloaderDriver,
  type DriverEnv,
  type Link,
  type StatusReport,
  type UsbLink,
} from "../../flash-api/driver.js";
import { LinkNotSupportedError } from "../../flash-api/errors.js";
import type { Target } from "../../targets/index.js";
import { formatUsbId, matchesSelector } from "../../usb/device.js";
import { usbBackend } from "../../usb/backends.js";
import { UsbTree } from "../../transport/usb-tree.js";
import { DfuAdapter, rowVerifies } from "./adapter.js";

/** Plain DFU bootloaders this build knows the behaviour of. */
const PLAIN_DFU_IDS = ["1eaf:0003", "1d50:6015"];

function usb(t: Target, link: Link, env?: DriverEnv): UsbLink {
  if (link.kind === "usb") return link;
  if (link.kind === "serial" && t.entry.includes("1200-baud-touch"))
    // The application's tty: touched into DFU, then found on the USB backend.
    return {
      kind: "usb",
      selector: {},
      backend: env?.usbBackend ?? usbBackend(),
      label: link.device,
    };
  throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["usb"]);
}

function adapterOf(t: Target, link: Link, env: DriverEnv, dfuse: boolean): DfuAdapter {
  return new DfuAdapter({
    target: t,
    link: usb(t, link, env),
    dfuse,
    ...(link.kind === "serial"
      ? {
          touch: {
            device: link.device,
            tree: env.usbTree ?? new UsbTree(),
            ...(env.procRoot ? { procRoot: env.procRoot } : {}),
          },
        }
      : {}),
  });
}

function make(protocol: "dfu" | "dfuse"): BootloaderDriver {
  const dfuse = protocol === "dfuse";
  return {
    protocol,
    name: dfuse ? "ST DfuSe" : "USB DFU",
    links: ["usb", "serial"],

    supports: (t) =>
      t.protocol === protocol &&
      t.transports.includes("usb-dfu") &&
      (dfuse || t.usbIds.some((id) => PLAIN_DFU_IDS.includes(id))),

    adapter: (t, link, env) => adapterOf(t, link, env, dfuse),

    async status(t, link, env): Promise<StatusReport> {
      const adapter = adapterOf(t, link, env, dfuse);
      const ctx = driverContext({ ...env, dryRun: true });
      try {
        await adapter.enter(ctx);
        const d = await adapter.connect(ctx);
        const g = d.geometry;
        const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
        return {
          bootloader: t.bootloader,
          fields: [
            { label: "Device", value: d.description },
            { label: "Protocol", value: d.bootloaderVersion ?? "?" },
            { label: "Transfer Size", value: `${g.blockSize} bytes` },
            ...(g.eraseUnit
              ? [{ label: "Sector Size", value: `${g.eraseUnit / 1024} KiB at the start` }]
              : []),
            {
              label: "Application Space",
              value: `${hex(g.start)}..${g.end !== undefined ? hex(g.end) : "?"}`,
            },
            {
              label: "Verify",
              value: rowVerifies(t)
                ? "read back (UPLOAD)"
                : "impossible: this bootloader has no upload",
            },
          ],
          description: d.description,
        };
      } finally {
        await adapter.close();
      }
    },

    async probe(t, link, env) {
      if (link.kind !== "usb") return { present: false };
      const l = usb(t, link, env);
      const list = await l.backend.list();
      const d = list.find(
        (x) =>
          t.usbIds.includes(formatUsbId(x.vendorId, x.productId)) &&
          matchesSelector(x, { ...l.selector, vendorId: x.vendorId, productId: x.productId }),
      );
      return d
        ? {
            present: true,
            description: `${t.bootloader} (${formatUsbId(d.vendorId, d.productId)})`,
          }
        : { present: false };
    },
  };
}

export const driver = make("dfu");
export const dfuseDriver = make("dfuse");

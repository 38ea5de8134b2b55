// The DFU drivers (dfu-util's job): "dfuse" for the STM32 ROM bootloader
// (0483:df11), "dfu" for plain DFU 1.1 (stm32duino 1eaf:0003, LPC176x
// 1d50:6015), over a USB link. Status connects and reports what the
// device's descriptors and state say; the board stays in its bootloader.
// A probe only lists devices (descriptor requests), never claims one.

import {
  driverContext,
  type BootloaderDriver,
  type Link,
  type StatusReport,
  type UsbLink,
} from "../../flash-api/driver.js";
import { LinkNotSupportedError } from "../../flash-api/errors.js";
import type { Target } from "../../targets/index.js";
import { formatUsbId, matchesSelector } from "../../usb/device.js";
import { DfuAdapter, rowVerifies } from "./adapter.js";

/** Plain DFU bootloaders this build knows the behaviour of. */
const PLAIN_DFU_IDS = ["1eaf:0003", "1d50:6015"];

function usb(t: Target, link: Link): UsbLink {
  if (link.kind !== "usb") throw new LinkNotSupportedError(t.id, t.protocol, link.kind, ["usb"]);
  return link;
}

function make(protocol: "dfu" | "dfuse"): BootloaderDriver {
  const dfuse = protocol === "dfuse";
  return {
    protocol,
    name: dfuse ? "ST DfuSe" : "USB DFU",
    links: ["usb"],

    supports: (t) =>
      t.protocol === protocol &&
      t.transports.includes("usb-dfu") &&
      (dfuse || t.usbIds.some((id) => PLAIN_DFU_IDS.includes(id))),

    adapter: (t, link) => new DfuAdapter({ target: t, link: usb(t, link), dfuse }),

    async status(t, link, env): Promise<StatusReport> {
      const adapter = new DfuAdapter({ target: t, link: usb(t, link), dfuse });
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

    async probe(t, link) {
      const l = usb(t, link);
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

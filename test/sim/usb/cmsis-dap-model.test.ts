// The CMSIS-DAP v2 probe model on the USB seam, as a host's stack sees it:
// the descriptors openocd's usb_bulk backend looks for (a vendor interface
// named "CMSIS-DAP…", bulk OUT then bulk IN of the packet size), one
// response per command in order, a timeout for an IN with nothing queued,
// and no more commands taken than the advertised packet count.
import { describe, expect, it } from "vitest";
import { CmsisDapModel, EP_IN, EP_OUT, PACKET_COUNT } from "../../../src/sim/usb/cmsis-dap.js";
import { parseConfigDescriptor, parseStringDescriptor } from "../../../src/usb/descriptors.js";
import { UsbStatus } from "../../../src/usb/errors.js";

const getDescriptor = (m: CmsisDapModel, kind: number, index: number) =>
  m.handle({
    op: "control",
    setup: {
      bmRequestType: 0x80,
      bRequest: 6,
      wValue: (kind << 8) | index,
      wIndex: 0,
      wLength: 255,
    },
  });
const out = (m: CmsisDapModel, ...bytes: number[]) =>
  m.handle({
    op: "transfer",
    endpoint: EP_OUT,
    timeoutMs: 100,
    length: 0,
    data: Uint8Array.from(bytes),
  });
const inn = (m: CmsisDapModel) =>
  m.handle({ op: "transfer", endpoint: EP_IN, timeoutMs: 10, length: 512 });

describe("CMSIS-DAP v2 probe model", () => {
  it.each([64, 512] as const)(
    "describes one vendor interface named CMSIS-DAP with bulk OUT then IN of %i bytes",
    async (size) => {
      const m = new CmsisDapModel({ packetSize: size });
      const cfg = parseConfigDescriptor((await getDescriptor(m, 2, 0)).data!);
      expect(cfg.interfaces).toHaveLength(1);
      const i = cfg.interfaces[0]!;
      expect([i.bInterfaceClass, i.bInterfaceSubClass, i.bInterfaceProtocol]).toEqual([0xff, 0, 0]);
      expect(parseStringDescriptor((await getDescriptor(m, 3, i.iInterface)).data!)).toMatch(
        /^CMSIS-DAP v2/,
      );
      expect(
        i.endpoints.map((e) => [e.bEndpointAddress, e.bmAttributes & 3, e.wMaxPacketSize]),
      ).toEqual([
        [EP_OUT, 2, size],
        [EP_IN, 2, size],
      ]);
    },
  );

  it("answers each command on the next IN, in order; an IN with nothing queued times out", async () => {
    const m = new CmsisDapModel();
    expect((await out(m, 0x00, 0xff)).status).toBe(UsbStatus.PIPE); // not claimed
    await m.handle({ op: "claim", iface: 0 });
    expect((await inn(m)).status).toBe(UsbStatus.TIMEOUT);
    expect((await out(m, 0x00, 0xff)).status).toBe(2);
    expect((await out(m, 0x00, 0xfe)).status).toBe(2);
    expect([...(await inn(m)).data!]).toEqual([0x00, 2, 64, 0]);
    expect([...(await inn(m)).data!]).toEqual([0x00, 1, PACKET_COUNT]);
    expect((await inn(m)).status).toBe(UsbStatus.TIMEOUT);
  });

  it("takes no more commands than its packet count before the host reads (the OUT endpoint NAKs)", async () => {
    const m = new CmsisDapModel();
    await m.handle({ op: "claim", iface: 0 });
    for (let i = 0; i < PACKET_COUNT; i++) expect((await out(m, 0x01, 0, 1)).status).toBe(3);
    expect((await out(m, 0x01, 0, 1)).status).toBe(UsbStatus.TIMEOUT);
    await inn(m);
    expect((await out(m, 0x01, 0, 1)).status).toBe(3);
  });
});

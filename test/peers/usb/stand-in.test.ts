// The stand-in libusb itself, driven by the real dfu-util: the device list
// comes from CANFLASH_USB_SOCKETS (a socket nobody listens on is an
// unplugged device), descriptors are read from the model with
// GET_DESCRIPTOR and parsed as libusb does (the DFU functional descriptor
// found in `extra`, every alt setting's string), bus 1 / port = the place
// in the list, as canflash's socket backend numbers them.
import { describe, expect, it } from "vitest";
import { DfuseRomModel } from "../../../src/sim/usb/dfuse-rom.js";
import { SocketUsbBackend } from "../../../src/usb/index.js";
import { runTool, serveModels } from "./harness.js";

describe("the stand-in libusb under the real dfu-util", () => {
  it("dfu-util -l lists every alt setting of the served model, with the path canflash reports; an unplugged socket is no device", async () => {
    const m = new DfuseRomModel({ serialNumber: "3568386B3132" });
    const s = await serveModels([m]);
    try {
      const env = { CANFLASH_USB_SOCKETS: `${s.dir}/nobody.sock:${s.paths[0]}` };
      const r = await runTool("dfu-util", ["-l"], env);
      expect(r.code).toBe(0);
      const found = r.stdout.split("\n").filter((l) => l.startsWith("Found DFU"));
      expect(found).toHaveLength(4);
      expect(found).toContain(
        'Found DFU: [0483:df11] ver=2200, devnum=2, cfg=1, intf=0, path="1-2", alt=0, name="@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", serial="3568386B3132"',
      );
      const [info] = await new SocketUsbBackend(() => env.CANFLASH_USB_SOCKETS.split(":")).list();
      expect(info!.portPath).toBe("1-2");
      m.unplug();
      const gone = await runTool("dfu-util", ["-l"], env);
      expect(gone.stdout).not.toMatch(/Found DFU/);
    } finally {
      await s.close();
    }
  });
});

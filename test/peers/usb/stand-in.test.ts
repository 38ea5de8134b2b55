// The stand-in libusb itself, driven by the real dfu-util: the device list
// comes from CANFLASH_USB_SOCKETS (a socket nobody listens on is an
// unplugged device), descriptors are read from the model with
// GET_DESCRIPTOR and parsed as libusb does (the DFU functional descriptor
// found in `extra`, every alt setting's string), bus 1 / port = the place
// in the list, as canflash's socket backend numbers them.
import { execFile } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { CmsisDapModel } from "../../../src/sim/usb/cmsis-dap.js";
import { DfuseRomModel } from "../../../src/sim/usb/dfuse-rom.js";
import { SocketUsbBackend } from "../../../src/usb/index.js";
import { buildStandIn, runTool, serveModels } from "./harness.js";

const exec = promisify(execFile);

/** The dynamic symbols a binary imports (or, with `defined`, exports) whose names start with libusb_. */
async function libusbSymbols(file: string, defined: boolean): Promise<string[]> {
  const { stdout } = await exec("nm", [
    "-D",
    defined ? "--defined-only" : "--undefined-only",
    file,
  ]);
  return stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/).pop() ?? "")
    .filter((n) => n.startsWith("libusb_"));
}

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

describe("the stand-in covers its tools", () => {
  it("exports every libusb-1.0 function dfu-util 0.11 and openocd 0.12 import: none falls through to the real libusb", async () => {
    const ours = new Set(await libusbSymbols(await buildStandIn(), true));
    for (const tool of ["/usr/bin/dfu-util", "/usr/bin/openocd"].filter((t) => existsSync(t))) {
      const missing = (await libusbSymbols(tool, false)).filter((n) => !ours.has(n));
      expect(missing, tool).toEqual([]);
    }
  });

  it("asynchronous transfers (submit, event loop, callbacks) reach the model: a CMSIS-DAP command answered", async () => {
    const exe = join(tmpdir(), `canflash-async-client-${process.pid}`);
    await exec("gcc", [
      "-O2",
      "-Wall",
      "-I/usr/include/libusb-1.0",
      "-o",
      exe,
      new URL("./async-client.c", import.meta.url).pathname,
      "-lusb-1.0",
    ]);
    const s = await serveModels([new CmsisDapModel({ packetSize: 512 })]);
    try {
      const r = await runTool(exe, [], s.env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe("00020002"); // DAP_Info: 2 bytes, 512
    } finally {
      await s.close();
      rmSync(exe, { force: true });
    }
  });
});

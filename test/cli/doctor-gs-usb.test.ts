// canflash doctor lists gs_usb adapters: one the kernel's gs_usb driver
// holds (use its SocketCAN interface), one no driver holds (use it from
// userspace by its gs_usb: name), and a Klipper bridge with its rate note.
import { afterEach, describe, expect, it } from "vitest";
import { doctorCommand } from "../../src/cli/commands/doctor.js";
import type { CliIo } from "../../src/cli/io.js";
import { TextReporter } from "../../src/cli/output.js";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { SimGsUsbAdapter } from "../../src/sim/usb/gs-usb.js";
import { InProcessUsbBackend } from "../../src/usb/in-process.js";
import { FakeUsbSysfs } from "../fakes/usb-sysfs.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe("canflash doctor: gs_usb adapters", () => {
  it("says which one the kernel holds (use can1) and how to name the others from userspace", async () => {
    const channel = VirtualCanChannel.anonymous({ label: "wire" });
    const held = new SimGsUsbAdapter(channel, {
      name: "held",
      serialNumber: "HELD01",
      portPath: "1-1.5",
    });
    const free = new SimGsUsbAdapter(channel, {
      name: "free",
      serialNumber: "FREE02",
      portPath: "1-1.6",
    });
    const bridge = new SimGsUsbAdapter(channel, {
      name: "bridge",
      variant: "klipper-bridge",
      serialNumber: "BR03",
      portPath: "1-1.7",
    });
    cleanups.push(() => Promise.all([held.close(), free.close(), bridge.close()]));
    const usb = new FakeUsbSysfs();
    cleanups.push(() => usb.cleanup());
    usb.plug({
      usbPath: "1-1.5",
      vid: "1d50",
      pid: "606f",
      manufacturer: "bytewerk",
      product: "candleLight USB to CAN adapter",
      serial: "HELD01",
      net: "can1",
    });
    let stdout = "";
    const io: CliIo = {
      stdout: { write: (t) => void (stdout += t) },
      stderr: { write: () => undefined },
      env: {},
      cwd: "/",
    };
    await doctorCommand(
      {
        interfaces: { runIp: async () => "[]" },
        klipper: { procRoot: usb.root, systemctl: async () => "inactive", socketPaths: [] },
        sysfsRoot: usb.sys,
        devRoot: usb.dev,
        usbBackend: InProcessUsbBackend.of(held, free, bridge),
      },
      { io, out: new TextReporter(io), signal: new AbortController().signal, verbose: false },
    );
    expect(stdout).toMatch(
      /gs_usb CAN adapter candleLight USB to CAN adapter \(USB 1d50:606f, serial HELD01\): the kernel's gs_usb driver holds it as can1; use -i can1/,
    );
    expect(stdout).toMatch(
      /gs_usb CAN adapter candleLight USB to CAN adapter \(USB 1d50:606f, serial FREE02\): no kernel driver holds it; use it from userspace: -i gs_usb:FREE02\n/,
    );
    expect(stdout).toMatch(
      /Klipper USB-to-CAN bridge stm32f072xb \(USB 1d50:606f, serial BR03\): no kernel driver holds it; use it from userspace: -i gs_usb:BR03 \(a bridge runs at its build's rate; 1 Mbit\/s is assumed/,
    );
  });
});

describe("canflash -q on a missing SocketCAN interface", () => {
  it("names the gs_usb adapters no kernel driver holds, with the command that uses one", async () => {
    const { gsUsbRig } = await import("../fakes/gs-usb.js");
    const { runInProcess } = await import("./helpers.js");
    const rig = gsUsbRig();
    cleanups.push(() => rig.close());
    rig.add(VirtualCanChannel.anonymous({ label: "wire" }), { serialNumber: "FREE02" });
    const r = await runInProcess(["-i", "canflash-no-such0", "-q"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/gs_usb adapters without a kernel driver: gs_usb:FREE02/);
    expect(r.stderr).toMatch(/use the adapter from userspace: canflash -i gs_usb:FREE02 -q/);
  });
});

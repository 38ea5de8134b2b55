// A dry run changes no device, on every driver: connect and plan where the
// bootloader already listens, and stop — as a dry-run outcome — where a real
// run would first have to change the board (a bootloader request, a touch).
// Every frame on the bus and every byte on the line is checked for commands
// that change state.
import { afterEach, describe, expect, it } from "vitest";
import { avrAdapterFor } from "../../src/bootloaders/avr/adapter-for.js";
import { findAvrPart } from "../../src/bootloaders/avr/parts.js";
import { driver as katapult } from "../../src/bootloaders/katapult/driver.js";
import { Cmd } from "../../src/bootloaders/katapult/codec.js";
import type { CanFrame } from "../../src/can/frame.js";
import { VirtualCanChannel } from "../../src/can/virtual.js";
import { CanBootloaderGate } from "../../src/entry/can-request.js";
import { DryRunStopError } from "../../src/flash-api/errors.js";
import { FlashError } from "../../src/flasher/errors.js";
import { runFlash } from "../../src/flasher/execute.js";
import { flashBoards } from "../../src/flasher/flash-boards.js";
import { readFirmware } from "../../src/flasher/firmware.js";
import { prepareRequests } from "../../src/flasher/requests.js";
import { AdminCmd, ADMIN_ID } from "../../src/klippy-bridge/admin.js";
import { CANFLASH_PROBE_IDS } from "../../src/klippy-bridge/assigned.js";
import { parseUuid } from "../../src/klippy-bridge/uuid.js";
import { Stk500v1Boot } from "../../src/sim/avr/stk500v1-boot.js";
import { Stk500v2Boot } from "../../src/sim/avr/stk500v2-boot.js";
import { SimUartPair } from "../../src/sim/avr/uart-pair.js";
import { SimCanDevice } from "../../src/sim/device.js";
import { SimSerialDevice, type WatchedLink } from "../../src/sim/serial-device.js";
import { findTarget } from "../../src/targets/index.js";
import { preciseClock, VirtualClock } from "../../src/util/clock.js";
import { randomBytes } from "../../src/util/random.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPty, type Pty } from "../fakes/pty.js";
import { FakeUsbSysfs } from "../fakes/usb-sysfs.js";

const dir = mkdtempSync(join(tmpdir(), "canflash-dry-"));
const file = join(dir, "klipper.bin");
const image = randomBytes(4096, 7);
image.set([0, 0x80, 0, 0x20, 0x01, 0x21, 0, 0x08]);
writeFileSync(file, image);
const klipperOpts = { stopKlipper: false, cwd: dir };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Katapult commands in a node's byte stream (frames STX 0x01 0x88, then the command). */
function katapultCommands(frames: readonly CanFrame[]): number[] {
  const byId = new Map<number, number[]>();
  for (const f of frames) {
    if (f.id < 0x100 || f.id > 0x2ff || f.id % 2 !== 0) continue; // host → node streams (0x100 + 2n)
    byId.set(f.id, [...(byId.get(f.id) ?? []), ...f.data]);
  }
  const cmds: number[] = [];
  for (const bytes of byId.values())
    for (let i = 0; i + 2 < bytes.length; i++)
      if (bytes[i] === 0x01 && bytes[i + 1] === 0x88) cmds.push(bytes[i + 2]!);
  return cmds;
}

const STATE_CHANGING_KATAPULT = [Cmd.SEND_BLOCK, Cmd.SEND_EOF, Cmd.COMPLETE];

function sniffedBus(name: string) {
  const channel = VirtualCanChannel.create(name, { bitrate: 1_000_000 });
  const sniffer = channel.open({ label: "sniffer" });
  const frames: CanFrame[] = [];
  void (async () => {
    try {
      for await (const f of sniffer) frames.push(f);
    } catch {
      // closed
    }
  })();
  cleanups.push(
    () => channel.remove(),
    () => sniffer.close(),
  );
  return { channel, frames };
}

describe("dry run: Katapult over CAN", () => {
  it("plans the Katapult node, stops at the Klipper and the silent node, sends no request and no write", async () => {
    const { channel, frames } = sniffedBus("dry-can");
    const devices = [
      { uuid: "8266c4636429", boot: "katapult" as const },
      { uuid: "625720a262c6", boot: "klipper" as const },
      { uuid: "3a1b5c7d9e0f", boot: "klipper" as const, klipper: { heldByNodeId: 40 } },
    ].map((o) => {
      const d = new SimCanDevice(channel.open({ txQueueLength: 3 }), o);
      d.start();
      cleanups.push(() => d.close());
      return d;
    });
    const requests = await prepareRequests(
      devices.map((d) => ({ label: d.uuid, uuid: d.uuid, iface: "virtual:dry-can", file })),
      { cwd: dir },
    );
    const out = await flashBoards(requests, { dryRun: true, klipper: klipperOpts });
    expect(out.map((o) => o.status)).toEqual(["dry-run", "dry-run", "dry-run"]);
    const [k, kl, held] = out;
    expect(k!.status === "dry-run" && k!.result?.plan.blocks.length).toBe(4096 / 64);
    expect(kl!.status === "dry-run" && kl!.stop).toBeInstanceOf(DryRunStopError);
    expect(kl!.status === "dry-run" && kl!.stop?.reason).toBe("answered-as-klipper");
    expect(held!.status === "dry-run" && held!.stop?.reason).toBe("no-answer");
    const admin = frames.filter((f) => f.id === ADMIN_ID).map((f) => f.data[0]);
    expect(admin).toContain(AdminCmd.QUERY_UNASSIGNED);
    expect(admin).not.toContain(AdminCmd.REQUEST_BOOTLOADER);
    // Identifying a Klipper node lends it one of canflash's own node ids (Klippy reassigns its own).
    for (const f of frames.filter(
      (x) => x.id === ADMIN_ID && x.data[0] === AdminCmd.SET_KLIPPER_NODEID,
    ))
      expect(CANFLASH_PROBE_IDS).toContain(f.data[7]);
    const cmds = katapultCommands(frames);
    expect(cmds).toContain(Cmd.CONNECT);
    for (const c of STATE_CHANGING_KATAPULT) expect(cmds).not.toContain(c);
    for (const d of devices)
      expect(
        d.events.filter((e) => ["write", "eof", "complete", "request-bootloader"].includes(e.type)),
      ).toEqual([]);
    expect(devices.map((d) => d.state.mode)).toEqual(["katapult", "klipper", "klipper"]);
  });

  it("the USB-to-CAN bridge: no bootloader request, nothing on the bus", async () => {
    const { channel, frames } = sniffedBus("dry-bridge");
    const host = channel.open({ label: "host" });
    cleanups.push(() => host.close());
    const uuid = parseUuid("8266c4636429");
    const adapter = katapult.adapter(
      findTarget("katapult"),
      {
        kind: "can",
        iface: "can0",
        bus: host,
        uuid,
        gate: new CanBootloaderGate(host, []),
        bridge: {
          iface: "can0",
          usb: {
            usbPath: "1-1.4",
            vid: "1d50",
            pid: "606f",
            manufacturer: "Klipper",
            product: "x",
            serial: "112233445566778899AABBCC",
          },
        },
      },
      { clock: preciseClock, dryRun: true },
    );
    const fw = await readFirmware(file, dir);
    const e = await runFlash(adapter, fw.image, { dryRun: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FlashError);
    expect((e as FlashError).cause).toBeInstanceOf(DryRunStopError);
    expect((e as FlashError).deviceState).toBe("untouched");
    await new Promise((r) => setTimeout(r, 20));
    expect(frames).toEqual([]);
  });
});

describe("dry run: Katapult over serial", () => {
  const ptys: Pty[] = [];
  afterEach(async () => {
    await Promise.all(ptys.splice(0).map((p) => p.close()));
  });
  const link = (p: Pty): WatchedLink => ({
    write: (b) => p.write(b),
    onData: (cb) => p.onData(cb),
  });

  it("a Klipper USB board is not touched: the dry run stops where the touch would be", async () => {
    const usb = new FakeUsbSysfs();
    cleanups.push(() => usb.cleanup());
    const p = await openPty();
    ptys.push(p);
    const byId = usb.plug({
      usbPath: "1-1.3",
      vid: "1d50",
      pid: "614e",
      manufacturer: "Klipper",
      product: "stm32g0b1xx",
      serial: "112233445566778899AABBCC",
      tty: { name: "ttyACM0", target: p.path },
    })!;
    const dev = new SimSerialDevice(link(p), {
      uuid: "8266c4636429",
      kind: "usb",
      boot: "klipper",
      clock: preciseClock,
    });
    dev.start();
    cleanups.push(() => dev.stop());
    const requests = await prepareRequests(
      [{ label: "board", device: byId, iface: "can0", file }],
      { cwd: dir },
    );
    const [o] = await flashBoards(requests, {
      dryRun: true,
      klipper: klipperOpts,
      usbTree: usb.tree,
    });
    expect(o!.status).toBe("dry-run");
    expect(o!.status === "dry-run" && o!.stop?.wouldDo).toMatch(/1200-baud touch/);
    expect(dev.mode).toBe("klipper");
    expect((await usb.tree.usbAt("1-1.3"))?.pid).toBe("614e");
  });

  it("a Katapult UART board is connected and planned; no block, EOF or COMPLETE is sent", async () => {
    const p = await openPty();
    ptys.push(p);
    const written: number[] = [];
    const dev = new SimSerialDevice(
      {
        write: (b) => p.write(b),
        onData: (cb) =>
          p.onData((b) => {
            written.push(...b);
            cb(b);
          }),
      },
      { uuid: "8266c4636429", kind: "uart", boot: "katapult", clock: preciseClock },
    );
    dev.start();
    cleanups.push(() => dev.stop());
    const requests = await prepareRequests(
      [{ label: "board", device: p.path, baud: 250000, iface: "can0", file }],
      { cwd: dir },
    );
    const [o] = await flashBoards(requests, { dryRun: true, klipper: klipperOpts });
    expect(o!.status).toBe("dry-run");
    expect(o!.status === "dry-run" && o!.result?.plan.imageBytes).toBe(4096);
    const cmds: number[] = [];
    for (let i = 0; i + 2 < written.length; i++)
      if (written[i] === 0x01 && written[i + 1] === 0x88) cmds.push(written[i + 2]!);
    expect(cmds).toContain(Cmd.CONNECT);
    for (const c of STATE_CHANGING_KATAPULT) expect(cmds).not.toContain(c);
    expect(dev.mode).toBe("katapult");
  });
});

describe("dry run: the Arduino bootloaders", () => {
  const img = { segments: [{ address: 0, data: new Uint8Array(600).fill(0x5a) }] };

  it("STK500v1: syncs and reads the signature; no page is written, programming mode is not left", async () => {
    const clock = new VirtualClock();
    const uart = new SimUartPair(clock, { baud: 115200 });
    const boot = new Stk500v1Boot(uart.device, {
      flavour: "optiboot",
      part: findAvrPart("atmega328p")!,
      bootStart: 0x7e00,
      clock,
    });
    uart.onReset(() => boot.reset());
    const adapter = avrAdapterFor(findTarget("avr-m328p-optiboot"), {
      device: "/dev/ttyUSB0",
      open: () => Promise.resolve(uart.host),
    });
    const r = await clock.run(runFlash(adapter, img, { clock, dryRun: true }));
    expect(r.dryRun).toBe(true);
    expect(r.plan.blocks).toHaveLength(5);
    const commands = uart.host.mock.written.map((w) => w[0]);
    expect(commands).toContain(0x75); // READ_SIGN
    expect(commands).not.toContain(0x64); // PROG_PAGE
    expect(commands).not.toContain(0x51); // LEAVE_PROGMODE
    expect(boot.events.filter((e) => e.type === "page")).toEqual([]);
  });

  it("STK500v2: signs on and reads the signature; no flash write, no erase, no leave", async () => {
    const clock = new VirtualClock();
    const uart = new SimUartPair(clock, { baud: 115200 });
    const boot = new Stk500v2Boot(uart.device, {
      part: findAvrPart("atmega2560")!,
      bootStart: 0x3e000,
      clock,
    });
    uart.onReset(() => boot.reset());
    const adapter = avrAdapterFor(findTarget("avr-m2560-wiring"), {
      device: "/dev/ttyACM0",
      open: () => Promise.resolve(uart.host),
    });
    const r = await clock.run(runFlash(adapter, img, { clock, dryRun: true }));
    expect(r.dryRun).toBe(true);
    // Messages: 1B seq len(2) 0E body…; the body's first byte is the command.
    const commands = uart.host.mock.written.filter((w) => w[0] === 0x1b).map((w) => w[5]);
    expect(commands).toContain(0x1b); // READ_SIGNATURE_ISP
    for (const c of [0x13, 0x12, 0x11]) expect(commands).not.toContain(c); // PROGRAM_FLASH, CHIP_ERASE, LEAVE_PROGMODE
  });
});

// canflash doctor against fakes: ip's JSON, a fake /proc with klippy, a
// Moonraker stand-in on loopback, a fake USB tree whose ttys are ptys.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { doctorCommand } from "../../src/cli/commands/doctor.js";
import type { CliIo } from "../../src/cli/io.js";
import { JsonReporter, TextReporter } from "../../src/cli/output.js";
import { JsonEvent } from "../../src/cli/json-events.js";
import { openPty, type Pty } from "../fakes/pty.js";
import { FakeUsbSysfs } from "../fakes/usb-sysfs.js";

const ipJson = readFileSync(new URL("../fixtures/ip/links.json", import.meta.url), "utf8");
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function capture(): { io: CliIo; out: () => string } {
  let stdout = "";
  return {
    io: {
      stdout: { write: (t) => void (stdout += t) },
      stderr: { write: () => undefined },
      env: {},
      cwd: "/",
    },
    out: () => stdout,
  };
}

describe("canflash doctor", () => {
  it("reports each interface, a running Klipper and the serial devices, each problem with its fix", async () => {
    const proc = mkdtempSync(join(tmpdir(), "canflash-proc-"));
    mkdirSync(join(proc, "4242"));
    writeFileSync(
      join(proc, "4242", "cmdline"),
      [
        "/home/pi/klippy-env/bin/python",
        "/home/pi/klipper/klippy/klippy.py",
        "/home/pi/printer_data/config/printer.cfg",
        "-l",
        "/tmp/klippy.log",
      ].join("\0"),
    );
    const server = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ result: { klippy_connected: true, klippy_state: "ready" } }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const port = (server.address() as { port: number }).port;

    const usb = new FakeUsbSysfs();
    cleanups.push(() => usb.cleanup());
    const p1: Pty = await openPty();
    const p2: Pty = await openPty();
    cleanups.push(
      () => p1.close(),
      () => p2.close(),
    );
    usb.plug({
      usbPath: "1-1.2",
      vid: "1d50",
      pid: "6177",
      manufacturer: "katapult",
      product: "stm32g0b1xx",
      serial: "AA",
      tty: { name: "ttyACM0", target: p1.path },
    });
    usb.plug({
      usbPath: "1-1.3",
      vid: "1d50",
      pid: "614e",
      manufacturer: "Klipper",
      product: "stm32f446xx",
      serial: "BB",
      tty: { name: "ttyACM1", target: p2.path },
    });
    usb.plug({
      usbPath: "1-1.4",
      vid: "1d50",
      pid: "606f",
      manufacturer: "Klipper",
      product: "stm32g0b1xx",
      serial: "112233445566778899AABBCC",
      net: "can0",
    });
    const holder = spawn("sh", ["-c", `exec 3<>${p2.path}; echo held; sleep 30`], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    cleanups.push(() => holder.kill());
    await new Promise<void>((r) => holder.stdout.once("data", () => r()));

    const opts = {
      interfaces: { runIp: async () => ipJson },
      klipper: {
        procRoot: proc,
        systemctl: async () => "active",
        moonrakerUrl: `http://127.0.0.1:${port}`,
        socketPaths: [],
      },
      sysfsRoot: usb.sys,
      devRoot: usb.dev,
    };
    const text = capture();
    const code = await doctorCommand(opts, {
      io: text.io,
      out: new TextReporter(text.io),
      signal: new AbortController().signal,
      verbose: false,
    });
    const o = text.out();
    expect(code).toBe(5); // an interface is down
    expect(o).toMatch(
      /FAIL vcan1 is down\n\s+fix: sudo ip link set vcan1 up type can bitrate 1000000/,
    );
    expect(o).toMatch(
      /WARN can0 txqueuelen is 10 \(recommended 128\)[^\n]*\n\s+fix: sudo ip link set can0 txqueuelen 128/,
    );
    expect(o).toMatch(/WARN can0 is error-passive \(tx errors 128, rx errors 0\)/);
    expect(o).toMatch(/ok {3}can1: up, 1000000 bit\/s, error-active, can/);
    expect(o).not.toMatch(/vcan0 txqueuelen/); // vcan has no real queue to warn about
    expect(o).toMatch(
      /WARN Klipper is running \(klippy PID 4242; systemd: active; Moonraker: ready\)[^\n]*\n\s+fix: stop it before flashing: sudo systemctl stop klipper/,
    );
    expect(o).toMatch(
      /ok {3}\S+usb-katapult_stm32g0b1xx_AA-if00: Katapult \/ CanBoot \(ready to flash\)/,
    );
    expect(o).toMatch(
      new RegExp(
        `WARN \\S+usb-Klipper_stm32f446xx_BB-if00: Klipper \\(canflash -d will 1200-baud touch it into Katapult\\); held by sh \\(PID ${holder.pid}\\)`,
      ),
    );
    expect(o).toMatch(/can0 is a Klipper USB-to-CAN bridge \(USB 1-1\.4/);

    const json = capture();
    const r = new JsonReporter(json.io, "test");
    await doctorCommand(opts, {
      io: json.io,
      out: r,
      signal: new AbortController().signal,
      verbose: false,
    });
    const events = json
      .out()
      .trim()
      .split("\n")
      .map((l) => JsonEvent.parse(JSON.parse(l)));
    expect(
      events.filter((e) => e.type === "finding" && e.level === "warn").length,
    ).toBeGreaterThanOrEqual(4);
  });
});

describe("canflash doctor: the kernel and CAN HATs", () => {
  const run = async (protocols: string) => {
    const proc = mkdtempSync(join(tmpdir(), "canflash-proc-"));
    mkdirSync(join(proc, "net"));
    writeFileSync(join(proc, "net", "protocols"), protocols);
    const text = capture();
    const code = await doctorCommand(
      {
        interfaces: { runIp: async () => "[]" },
        klipper: { procRoot: proc, systemctl: null, moonrakerUrl: null, socketPaths: [] },
        procRoot: proc,
        modulesRoot: join(proc, "no-modules"),
        devRoot: join(proc, "dev"),
        sysfsRoot: join(proc, "sys"),
      },
      {
        io: text.io,
        out: new TextReporter(text.io),
        signal: new AbortController().signal,
        verbose: false,
      },
    );
    return { code, o: text.out() };
  };

  it("no CAN in the kernel is an error (exit 5) with the modprobe to try", async () => {
    const { code, o } = await run(
      "protocol  size sockets  memory press maxhdr  slab module\nTCP ...\n",
    );
    expect(code).toBe(5);
    expect(o).toMatch(/FAIL this kernel has no SocketCAN[\s\S]*fix: sudo modprobe can-raw/);
  });

  it("a kernel with CAN but no interface: a warning (exit 1) that names the CAN HAT overlay", async () => {
    const { code, o } = await run("CAN_RAW     960      0      -1   NI       0   yes  can_raw\n");
    expect(code).toBe(1);
    expect(o).not.toMatch(/no SocketCAN/);
    expect(o).toMatch(/WARN no CAN interfaces[\s\S]*dtoverlay=mcp2515-can0,oscillator=/);
  });
});

// printer.cfg parsing the way Klippy reads it, on real files in a temp dir.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configuredMcus, mcuForUuid } from "../../src/klippy-bridge/mcu-inventory.js";
import {
  loadPrinterConfig,
  parsePrinterConfig,
  PrinterConfigError,
  SAVE_CONFIG_HEADER,
  SAVE_CONFIG_MARKER,
  splitSaveConfig,
} from "../../src/klippy-bridge/printer-cfg.js";
import {
  defaultPrinterConfigPaths,
  globFiles,
  nodeConfigFs,
} from "../../src/klippy-bridge/printer-cfg-fs.js";

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "canflash-cfg-"));
  for (const [rel, text] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, text);
  }
  return root;
}

const opt = (c: Awaited<ReturnType<typeof parsePrinterConfig>>, section: string, key: string) =>
  c.sections.find((s) => s.name === section)?.options.get(key)?.value;

describe("printer.cfg parser", () => {
  it("reads sections, both delimiters, lower-cases keys and keeps section case", async () => {
    const c = await parsePrinterConfig(
      "[mcu EBBCan]\nCANBUS_UUID: aabbccddeeff\n[printer]\nkinematics = corexy\n",
    );
    expect(c.sections.map((s) => s.name)).toEqual(["mcu EBBCan", "printer"]);
    expect(opt(c, "mcu EBBCan", "canbus_uuid")).toBe("aabbccddeeff");
    expect(opt(c, "printer", "kinematics")).toBe("corexy");
  });

  it("drops whole-line and inline comments, but keeps # without whitespace before it", async () => {
    const c = await parsePrinterConfig(
      "# top\n; also\n[mcu]\nserial: /dev/serial/by-id/usb-Klipper_stm32#1  # the main board\nbaud: 250000 ; fast\n",
    );
    expect(opt(c, "mcu", "serial")).toBe("/dev/serial/by-id/usb-Klipper_stm32#1");
    expect(opt(c, "mcu", "baud")).toBe("250000");
  });

  it("joins indented continuation lines, skipping comments and blank lines between them", async () => {
    const c = await parsePrinterConfig(
      "[gcode_macro START]\ngcode:\n  G28\n\n  # home first\n  G1 X10  ; move\n[mcu]\nserial: /dev/ttyACM0\n",
    );
    expect(opt(c, "gcode_macro START", "gcode")).toBe("G28\nG1 X10");
    expect(opt(c, "mcu", "serial")).toBe("/dev/ttyACM0");
  });

  it("merges repeated sections, later values winning", async () => {
    const c = await parsePrinterConfig(
      "[mcu]\nserial: /dev/a\nbaud: 1\n[printer]\n[mcu]\nserial: /dev/b\n",
    );
    expect(c.sections.map((s) => s.name)).toEqual(["mcu", "printer"]);
    expect(opt(c, "mcu", "serial")).toBe("/dev/b");
    expect(opt(c, "mcu", "baud")).toBe("1");
  });

  it("applies the SAVE_CONFIG block last", async () => {
    const text = `[mcu EBB]\ncanbus_uuid: 111111111111\n${SAVE_CONFIG_HEADER}#*# [mcu EBB]\n#*# canbus_uuid = 222222222222\n#*#\n`;
    expect(splitSaveConfig(text).saved).toBe("[mcu EBB]\ncanbus_uuid = 222222222222\n");
    const c = await parsePrinterConfig(text);
    expect(opt(c, "mcu EBB", "canbus_uuid")).toBe("222222222222");
  });

  it("ignores a SAVE_CONFIG block Klippy would ignore (edited below the header, or no full header)", async () => {
    const edited = `[mcu EBB]\ncanbus_uuid: 111111111111\n${SAVE_CONFIG_HEADER}#*# [mcu EBB]\ncanbus_uuid = 222222222222\n`;
    expect(splitSaveConfig(edited).saved).toBeUndefined();
    const bare = `[mcu EBB]\ncanbus_uuid: 111111111111\n${SAVE_CONFIG_MARKER}\n#*# [mcu EBB]\n#*# canbus_uuid = 222222222222\n`;
    expect(splitSaveConfig(bare).saved).toBeUndefined();
    const c = await parsePrinterConfig(bare);
    expect(opt(c, "mcu EBB", "canbus_uuid")).toBe("111111111111");
  });

  it("says where a line cannot be read", async () => {
    await expect(parsePrinterConfig("[mcu]\nserial /dev/ttyACM0\n")).rejects.toThrow(
      /printer\.cfg:2: cannot read "serial \/dev\/ttyACM0"/,
    );
    await expect(parsePrinterConfig("serial: x\n")).rejects.toThrow(
      /printer\.cfg:1: option "serial" before any \[section\]/,
    );
    await expect(parsePrinterConfig("  indented\n")).rejects.toBeInstanceOf(PrinterConfigError);
  });

  it("follows [include] relative to the including file, with globs in sorted order", async () => {
    const root = tree({
      "printer.cfg":
        "[include mainsail.cfg]\n[include toolheads/*.cfg]\n[mcu]\nserial: /dev/ttyACM0\n",
      "mainsail.cfg": "[virtual_sdcard]\npath: ~/printer_data/gcodes\n",
      "toolheads/t1.cfg": "[mcu T1]\ncanbus_uuid: 0000000000b1\n[include ../common/probe.cfg]\n",
      "toolheads/t0.cfg": "[mcu T0]\ncanbus_uuid: 0000000000a0\ncanbus_interface: can1\n",
      "toolheads/.hidden.cfg": "[mcu hidden]\ncanbus_uuid: 0000000000ff\n",
      "common/probe.cfg": "[probe]\npin: T1:PB5\n",
    });
    const c = await loadPrinterConfig(join(root, "printer.cfg"), nodeConfigFs);
    expect(c.sections.map((s) => s.name)).toEqual([
      "virtual_sdcard",
      "mcu T0",
      "mcu T1",
      "probe",
      "mcu",
    ]);
    expect(c.files.map((f) => f.slice(root.length + 1))).toEqual([
      "printer.cfg",
      "mainsail.cfg",
      "toolheads/t0.cfg",
      "toolheads/t1.cfg",
      "toolheads/../common/probe.cfg",
    ]);
    const mcus = configuredMcus(c);
    expect(mcus.map((m) => [m.name, m.canbusUuid, m.canbusInterface, m.klipperNodeId])).toEqual([
      ["T0", "0000000000a0", "can1", 4],
      ["T1", "0000000000b1", "can0", 5],
      ["mcu", undefined, undefined, undefined],
    ]);
    expect(mcus[1]).toMatchObject({ file: join(root, "toolheads/t1.cfg"), line: 1 });
    expect(mcuForUuid(mcus, "0000000000b1" as never, "can0")?.section).toBe("mcu T1");
    expect(mcuForUuid(mcus, "0000000000b1" as never, "can1")).toBeUndefined();
  });

  it("an include that matches no file: an error for a plain name, nothing for a glob", async () => {
    const root = tree({ "printer.cfg": "[include none/*.cfg]\n[include missing.cfg]\n" });
    await expect(loadPrinterConfig(join(root, "printer.cfg"), nodeConfigFs)).rejects.toThrow(
      /printer\.cfg:2: \[include missing\.cfg\]: cannot read .*missing\.cfg \(ENOENT\)/,
    );
  });

  it("refuses recursive includes", async () => {
    const root = tree({ "printer.cfg": "[include a.cfg]\n", "a.cfg": "[include printer.cfg]\n" });
    await expect(loadPrinterConfig(join(root, "printer.cfg"), nodeConfigFs)).rejects.toThrow(
      /a\.cfg:1: recursive/,
    );
  });

  it("a missing printer.cfg is a PrinterConfigError naming the file", async () => {
    await expect(loadPrinterConfig("/nonexistent/printer.cfg", nodeConfigFs)).rejects.toThrow(
      /\/nonexistent\/printer\.cfg: cannot read the printer config \(ENOENT\)/,
    );
  });
});

describe("configured MCUs", () => {
  it("reads serial and baud, and flags what Klippy would reject", async () => {
    const c = await parsePrinterConfig(
      [
        "[mcu]",
        "serial: /dev/serial/by-id/usb-Klipper_stm32f446xx_123-if00",
        "restart_method: command",
        "[mcu bad]",
        "canbus_uuid: 12345",
        "[mcu both]",
        "canbus_uuid: aabbccddeeff",
        "serial: /dev/ttyUSB0",
        "[mcu empty]",
        "[mcu_other]",
        "[mcu rpi]",
        "serial: /tmp/klipper_host_mcu",
        "baud: fast",
      ].join("\n"),
    );
    const m = configuredMcus(c);
    expect(m.map((x) => x.section)).toEqual(["mcu", "mcu bad", "mcu both", "mcu empty", "mcu rpi"]);
    expect(m[0]).toMatchObject({ name: "mcu", restartMethod: "command" });
    expect(m[0]!.problem).toBeUndefined();
    expect(m[1]!.problem).toMatch(/not 12 hex digits/);
    expect(m[2]).toMatchObject({
      klipperNodeId: 4,
      problem: "both serial and canbus_uuid are set",
    });
    expect(m[3]!.problem).toMatch(/neither serial nor canbus_uuid/);
    expect(m[4]!.problem).toMatch(/baud "fast"/);
  });
});

describe("config files on disk", () => {
  it("globs like Python: no hidden files, no recursion, sorted, files only", async () => {
    const root = tree({ "a/x.cfg": "", "a/.y.cfg": "", "a/b/z.cfg": "", "a/w.cfg": "" });
    mkdirSync(join(root, "a/dir.cfg"));
    expect((await globFiles(join(root, "a/*.cfg"))).map((f) => f.slice(root.length))).toEqual([
      "/a/w.cfg",
      "/a/x.cfg",
    ]);
    expect((await globFiles(join(root, "a/**/*.cfg"))).map((f) => f.slice(root.length))).toEqual([
      "/a/b/z.cfg",
    ]);
    expect((await globFiles(join(root, "a/[wx].cfg"))).length).toBe(2);
    expect((await globFiles(join(root, "a/[!w].cfg"))).map((f) => f.slice(root.length))).toEqual([
      "/a/x.cfg",
    ]);
    expect((await globFiles(join(root, "a/.*.cfg"))).map((f) => f.slice(root.length))).toEqual([
      "/a/.y.cfg",
    ]);
  });

  it("knows where Klipper installs keep printer.cfg", () => {
    expect(defaultPrinterConfigPaths("/home/pi")[0]).toBe(
      "/home/pi/printer_data/config/printer.cfg",
    );
  });
});

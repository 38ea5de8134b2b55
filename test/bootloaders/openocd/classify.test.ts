// OpenOCD 0.12's own messages (as printed by the Debian package for each failure) → typed errors.
import { describe, expect, it } from "vitest";
import { classifyOpenOcd } from "../../../src/bootloaders/openocd/classify.js";
import {
  checkChain,
  parseFlashBanks,
  parseScanChain,
  parseTargets,
} from "../../../src/bootloaders/openocd/examine.js";

describe("OpenOCD messages as typed errors", () => {
  it.each([
    [
      "embedded:startup.tcl:28: Error: Can't find /home/pi/rpi.cfg\nin procedure 'script'",
      "OPENOCD_CONFIG_NOT_FOUND",
      { config: "/home/pi/rpi.cfg" },
    ],
    [
      "Info : Linux GPIOD JTAG/SWD bitbang driver\nError: Cannot open LinuxGPIOD chip 0 for swdio",
      "OPENOCD_ADAPTER_NOT_FOUND",
      {},
    ],
    ["Error: unable to find a matching CMSIS-DAP device", "OPENOCD_ADAPTER_NOT_FOUND", {}],
    ["Error: Error on socket 'Failed to connect': errno==9", "OPENOCD_ADAPTER_NOT_FOUND", {}],
    [
      "Warn : JTAG tap: chip.cpu       UNEXPECTED: 0x2ba01477 (mfg: 0x23b (ARM Ltd), part: 0xba01, ver: 0x2)\nError: JTAG tap: chip.cpu  expected 1 of 1: 0x4ba00477 (mfg: 0x23b",
      "OPENOCD_WRONG_IDCODE",
      { tap: "chip.cpu", found: "0x2ba01477", expected: ["0x4ba00477"] },
    ],
    ["Error: Error connecting DP: cannot read IDR", "OPENOCD_NO_TARGET", {}],
    ["Error: Target not examined yet", "OPENOCD_NO_TARGET", {}],
    ["Error: Invalid ACK (7) in DAP response", "OPENOCD_NO_TARGET", {}],
    [
      "Error: Couldn't find part corresponding to DID 110100ff",
      "OPENOCD_NO_TARGET",
      { detail: expect.stringMatching(/DSU answers DID 0x110100ff/) },
    ],
    [
      "Error: at91samd.cpu -- clearing lockup after double fault\nError: Device Security Bit Set",
      "OPENOCD_FLASH_LOCKED",
      {},
    ],
  ])("%s", (text, code, fields) => {
    expect(classifyOpenOcd(text, { adapter: "x" })).toMatchObject({ code, ...fields });
  });

  it("the chip's words outrank a probe search's: libusb_open failures are logged on good runs too", () => {
    const text =
      "Error: libusb_open() failed with LIBUSB_ERROR_ACCESS\nInfo : CMSIS-DAP: SWD supported\nError: Error connecting DP: cannot read IDR";
    expect(classifyOpenOcd(text)).toMatchObject({ code: "OPENOCD_NO_TARGET" });
    expect(
      classifyOpenOcd("Error: stm32x device protected\nError: failed erasing sectors 0 to 23"),
    ).toMatchObject({
      code: "OPENOCD_FLASH_LOCKED",
    });
  });

  it("a verify failure needs the image it was about", () => {
    const text =
      "checksum mismatch - attempting binary compare\ndiff 0 address 0x00000010. Was 0xff instead of 0x00";
    expect(classifyOpenOcd(text)).toBeUndefined();
    expect(classifyOpenOcd(text, { verify: { file: "/tmp/a.bin", address: 0 } })).toMatchObject({
      code: "OPENOCD_VERIFY_FAILED",
      file: "/tmp/a.bin",
    });
  });

  it("leaves text it does not know alone", () => {
    expect(classifyOpenOcd('invalid command name "at91samd"')).toBeUndefined();
  });
});

describe("OpenOCD's tables", () => {
  const chain = [
    "   TapName             Enabled  IdCode     Expected   IrLen IrCap IrMask",
    "-- ------------------- -------- ---------- ---------- ----- ----- ------",
    " 0 chip.cpu               Y     0x2ba01477 0x4ba00477     4 0x01  0x03",
  ].join("\n");

  it("scan_chain: a TAP with another IDCODE than expected, over JTAG only", () => {
    const taps = parseScanChain(chain);
    expect(taps).toEqual([
      { name: "chip.cpu", enabled: true, idcode: 0x2ba01477, expected: 0x4ba00477, irLength: 4 },
    ]);
    expect(() => checkChain(taps, "jtag")).toThrow(
      expect.objectContaining({ code: "OPENOCD_WRONG_IDCODE" }),
    );
    expect(() => checkChain(taps, "swd")).not.toThrow();
    expect(() => checkChain([{ ...taps[0]!, idcode: 0 }], "jtag")).toThrow(/all zeroes/);
  });

  it("targets and flash banks", () => {
    expect(
      parseTargets(
        "    TargetName         Type       Endian TapName            State       \n--  ------------------ ---------- ------ ------------------ ------------\n 0* at91samd.cpu       cortex_m   little at91samd.cpu       halted\n",
      ),
    ).toEqual([{ name: "at91samd.cpu", type: "cortex_m", state: "halted" }]);
    expect(
      parseFlashBanks(
        "#0 : at91samd.flash (at91samd) at 0x00000000, size 0x00040000, buswidth 1, chipwidth 1",
      ),
    ).toEqual([{ index: 0, name: "at91samd.flash", driver: "at91samd", base: 0, size: 0x40000 }]);
  });
});

import { describe, expect, it } from "vitest";
import { openocdFlags, parseSwdPins, swdLinkOf } from "../../src/cli/swd-options.js";

describe("SWD flags → the OpenOCD link", () => {
  it("the seed's pins, and the retry line gives the same link back", () => {
    const flags = {
      swd: "swclk=25,swdio=24,srst=18,chip=4",
      swdDriver: "linuxgpiod",
      swdSpeed: "100",
      swdChip: "stm32f103xe",
      address: "0x08000000",
      chipErase: false,
      connectUnderReset: true,
    };
    const link = swdLinkOf(flags, {});
    expect(link).toEqual({
      kind: "openocd",
      gpio: { driver: "linuxgpiod", swclk: 25, swdio: 24, srst: 18, gpiochip: 4 },
      speedKhz: 100,
      chip: "stm32f103xe",
      address: 0x08000000,
      noChipErase: true,
      connectUnderReset: true,
    });
    const again = openocdFlags(link).split(" ");
    const get = (f: string) => again[again.indexOf(f) + 1];
    expect(
      swdLinkOf(
        {
          swd: get("--swd"),
          swdDriver: get("--swd-driver"),
          swdSpeed: get("--swd-speed"),
          swdChip: get("--swd-chip"),
          address: get("--address"),
          chipErase: !again.includes("--no-chip-erase"),
          connectUnderReset: again.includes("--connect-under-reset"),
        },
        {},
      ),
    ).toEqual(link);
  });

  it("CANFLASH_OPENOCD names the binary unless --openocd-bin does; a running OpenOCD needs none", () => {
    const env = { CANFLASH_OPENOCD: "/opt/openocd/bin/openocd" };
    expect(swdLinkOf({ openocdConfig: "/a.cfg" }, env).bin).toBe("/opt/openocd/bin/openocd");
    expect(swdLinkOf({ openocdConfig: "/a.cfg", openocdBin: "/x" }, env).bin).toBe("/x");
    // the retry line names the binary that ran, so the retry starts the same one
    expect(openocdFlags(swdLinkOf({ openocdConfig: "/a.cfg" }, env))).toBe(
      "--openocd-config /a.cfg --openocd-bin /opt/openocd/bin/openocd --no-backup",
    );
    expect(openocdFlags(swdLinkOf({ openocdConfig: "/a.cfg", openocdBin: "openocd" }, {}))).toBe(
      "--openocd-config /a.cfg --no-backup",
    );
    expect(swdLinkOf({ device: "openocd:pi:6666" }, env)).toEqual({
      kind: "openocd",
      rpc: { host: "pi", port: 6666 },
    });
  });

  it("pins: names, numbers, no repeats", () => {
    expect(parseSwdPins("swclk=25,swdio=24")).toEqual({ swclk: 25, swdio: 24 });
    expect(() => parseSwdPins("swclk=25,swdio=24,srst=24")).toThrow(/must differ/);
    expect(() => parseSwdPins("tck=1,swdio=2")).toThrow(/not pin=GPIO/);
  });
});

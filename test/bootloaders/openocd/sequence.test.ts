import { describe, expect, it } from "vitest";
import { swdChip } from "../../../src/bootloaders/openocd/chips.js";
import {
  CHIP_ERASE_TIMEOUT_MS,
  renderSequence,
  swdSequence,
} from "../../../src/bootloaders/openocd/sequence.js";

const run = { address: 0x08000000, bytes: 2048, file: "/tmp/hid.bin" };

describe("the seed's OpenOCD sequences", () => {
  it("STM32F1 bootloader install: backup, mass erase, program … verify 0x08000000, reset run", () => {
    const steps = swdSequence({
      chip: swdChip("stm32f103xe"),
      backup: "/tmp/backup.bin",
      chipErase: true,
      runs: [run],
    });
    expect(steps.map((s) => s.command)).toEqual([
      "reset halt",
      "flash read_bank 0 /tmp/backup.bin",
      "stm32f1x mass_erase 0",
      "reset halt",
      "flash write_image /tmp/hid.bin 0x08000000 bin",
      "verify_image /tmp/hid.bin 0x08000000 bin",
      "reset run",
    ]);
  });

  it("SAMD51 UF2 bootloader install (openocd 0.12's atsame5 driver): erase, BOOTPROT 0, write, 16384 once verified, reset last", () => {
    const steps = swdSequence({
      chip: swdChip("samd51j19a"),
      chipErase: true,
      runs: [{ address: 0, bytes: 16384, file: "/tmp/uf2.bin" }],
      bootProtectAfter: 16384,
    });
    const cmds = steps.map((s) => s.command);
    expect(cmds.indexOf("atsame5 chip-erase")).toBeLessThan(cmds.indexOf("atsame5 bootloader 0"));
    expect(cmds.indexOf("atsame5 bootloader 0")).toBeLessThan(
      cmds.findIndex((c) => c.startsWith("flash write_image")),
    );
    expect(cmds.slice(-3)).toEqual([
      "verify_image /tmp/uf2.bin 0x00000000 bin",
      "atsame5 bootloader 16384",
      "reset run",
    ]);
  });

  it("SAMC21 (1LC): the chip erase's end read from DSU STATUSA (DONE, bit 0) before BOOTPROT is touched, with the erase's deadline", () => {
    const steps = swdSequence({
      chip: swdChip("samc21g18a"),
      chipErase: true,
      runs: [{ address: 0, bytes: 8192, file: "/tmp/klipper.bin" }],
    });
    expect(steps.map((s) => s.command).slice(0, 5)).toEqual([
      "reset halt",
      "at91samd chip-erase",
      "read_memory 0x41002101 8 1",
      "at91samd bootloader 0",
      "reset halt",
    ]);
    const wait = steps.find((s) => s.kind === "erase-wait")!;
    expect(wait.until).toMatchObject({ address: 0x41002101, mask: 1, name: "DSU STATUSA.DONE" });
    expect(wait.timeoutMs).toBe(CHIP_ERASE_TIMEOUT_MS);
    expect(renderSequence(steps)).toMatch(
      /read_memory 0x41002101 8 1 +# again until the chip erase is done/,
    );
    // --no-chip-erase: nothing to wait for; BOOTPROT 0 still needs the reset that loads the user row
    const noErase = swdSequence({ chip: swdChip("samc21g18a"), chipErase: false, runs: [run] });
    expect(noErase.some((s) => s.kind === "erase-wait")).toBe(false);
    expect(noErase.map((s) => s.command).slice(0, 4)).toEqual([
      "reset halt",
      "at91samd bootloader 0",
      "reset halt",
      "flash erase_address pad 0x08000000 0x800",
    ]);
    // an STM32's mass erase waits inside OpenOCD
    const stm = swdSequence({ chip: swdChip("stm32f103xe"), chipErase: true, runs: [run] });
    expect(stm.some((s) => s.kind === "erase-wait")).toBe(false);
  });

  it("an unknown chip (the user's config): sector erase of what is written, no chip erase", () => {
    const steps = swdSequence({ chip: undefined, chipErase: true, runs: [run] });
    expect(steps.map((s) => s.command)).toContain("flash erase_address pad 0x08000000 0x800");
    expect(steps.map((s) => s.kind)).toEqual(["halt", "erase", "write", "verify", "reset"]);
  });

  it("gives long transfers deadlines in proportion, and renders one command a line", () => {
    const big = swdSequence({
      chip: undefined,
      chipErase: false,
      runs: [{ ...run, bytes: 256 * 1024 }],
    });
    const small = swdSequence({ chip: undefined, chipErase: false, runs: [run] });
    expect(big.find((s) => s.kind === "write")!.timeoutMs).toBeGreaterThan(
      small.find((s) => s.kind === "write")!.timeoutMs,
    );
    expect(renderSequence(small).split("\n")).toHaveLength(small.length);
    expect(renderSequence(small)).toMatch(/verify_image .*# read back and compare/);
  });
});

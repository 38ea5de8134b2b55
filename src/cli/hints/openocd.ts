// Hints for flashing over SWD/JTAG through OpenOCD, with the advice of
// Klipper's Bootloaders document: check the wiring (GND, SWCLK, SWDIO, RST)
// with both boards powered off, power the target, hold the board's reset
// button while OpenOCD starts, and for a SAMC21 whose SWD pins are reused by
// the firmware, the cold-plug sequence (SWCLK low while pulsing reset).

import { ExitCode } from "../exit-codes.js";
import { list, retryLine, str, type HintTable } from "./types.js";

const WIRING =
  "wiring: GND, SWCLK, SWDIO and RST of the board to GND, GPIO25, GPIO24 and GPIO18 of the Pi (or the pins given), wired with both powered off";
const POWER =
  "the board has power of its own (the Pi's SWD pins do not power it) and runs at 3.3 V";
const HOLD_RESET =
  "hold the board's reset button while OpenOCD starts, release it once the chip is found (with the reset wire: --connect-under-reset does it)";
const COLD_PLUG =
  "a SAMC21 (Duet3D 1LC) whose firmware reuses the SWD pins needs the cold-plug sequence first: SWCLK held low while the reset line is pulsed, then start OpenOCD (the README's SWD section has the commands)";
const SLOWER = "a slower clock over long wires: --swd-speed 40 (the seed's) or lower";

export const openocdHints = {
  OPENOCD_COMMAND_FAILED: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      `OpenOCD refused ${str(e, "command")}: ${str(e, "output") ?? ""}`.trim(),
      ...(str(e, "command")?.startsWith("flash read_bank")
        ? [
            "the backup could not be read (nothing was changed): a locked chip reads nothing — --no-backup goes on without one",
          ]
        : []),
    ],
    next: ["run again with -v to see every OpenOCD command and its output", ...retryLine(ctx)],
  }),
  OPENOCD_NOT_INSTALLED: (e) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [`${str(e, "binary")} is not installed or not executable`],
    next: [
      "sudo apt-get install openocd",
      "or name the binary: --openocd-bin /path/to/openocd (or CANFLASH_OPENOCD=/path/to/openocd)",
    ],
  }),
  OPENOCD_EXITED: (e, ctx) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      `openocd stopped while starting with ${str(e, "config")}`,
      "a command in the config is wrong for this openocd (0.12 names: adapter driver, adapter gpio, adapter speed)",
      "the config sets tcl_port itself: canflash needs to choose it (remove the line)",
    ],
    next: [`openocd -f ${str(e, "config")} — see its own messages`, ...retryLine(ctx)],
  }),
  OPENOCD_UNREACHABLE: (e, ctx) => ({
    exitCode: ExitCode.INTERFACE,
    causes: e["started"]
      ? ["the openocd canflash started never answered on its RPC port"]
      : [
          `no OpenOCD listens on ${str(e, "host")}:${e["port"]}`,
          "start it first (openocd -f your.cfg), or let canflash start it: --openocd-config your.cfg",
          "OpenOCD binds to localhost: for another host add `bindto 0.0.0.0` to its config",
        ],
    next: retryLine(ctx),
  }),
  OPENOCD_PROTOCOL: () => ({
    exitCode: ExitCode.FAILURE,
    causes: ["the port is not OpenOCD's TCL RPC port (6666 by default; 4444 is telnet, 3333 gdb)"],
    next: ["canflash --target <row> -d openocd:localhost:6666 <file>"],
  }),
  OPENOCD_NO_TARGET: (_e, ctx) => ({
    exitCode: ExitCode.NO_NODE,
    causes: [WIRING, POWER, HOLD_RESET, COLD_PLUG, SLOWER],
    next: retryLine(ctx),
  }),
  OPENOCD_WRONG_IDCODE: (e, ctx) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      `${str(e, "tap")} is another chip than the config's target (${str(e, "found")}, not ${list(e, "expected").join(" or ")}): choose the target script of the chip on the board`,
      "or a bad wire: an IDCODE with flipped bits is noise on TDO/TMS — check the wiring and use a slower clock",
      WIRING,
    ],
    next: retryLine(ctx),
  }),
  OPENOCD_ADAPTER_NOT_FOUND: (e, ctx) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      str(e, "adapter") === "bcm2835gpio"
        ? "bcm2835gpio needs /dev/gpiomem (or root for /dev/mem): run as a user in the gpio group, or with sudo; on a Pi 5 use --swd-driver linuxgpiod"
        : str(e, "adapter") === "linuxgpiod"
          ? "the gpiochip does not exist or is not accessible: ls /dev/gpiochip*, add the user to the gpio group"
          : "the debug probe is not plugged in, or the user may not open it (udev rules: see OpenOCD's contrib/60-openocd.rules)",
    ],
    next: retryLine(ctx),
  }),
  OPENOCD_VERIFY_FAILED: (e, ctx) => ({
    exitCode: ExitCode.VERIFY_MISMATCH,
    causes: [
      "the chip was left halted and not reset into the image: flash it again before power-cycling it",
      "the flash may be write-protected (BOOTPROT, read-out protection) or the wiring is marginal: " +
        SLOWER,
      `the image: ${str(e, "file")}`,
    ],
    next: retryLine(ctx),
  }),
  OPENOCD_FLASH_LOCKED: (_e, ctx) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      "SAMD/SAMC: the security bit or BOOTPROT protects the flash: at91samd chip-erase clears it (canflash erases first unless --no-chip-erase)",
      "STM32: read-out or write protection: stm32f1x unlock 0 (then power-cycle) clears it and erases the chip",
    ],
    next: retryLine(ctx),
  }),
  OPENOCD_CONFIG_NOT_FOUND: (e) => ({
    exitCode: ExitCode.USAGE,
    causes: [
      `${str(e, "config")} is neither a file nor in OpenOCD's script folder (/usr/share/openocd/scripts)`,
    ],
    next: ["ls /usr/share/openocd/scripts/target/ — the chip scripts this openocd has"],
  }),
  OPENOCD_SETUP: (e) => ({
    exitCode: ExitCode.USAGE,
    causes: ["nothing was started or sent", str(e, "problem") ?? ""].filter(Boolean),
    next: [
      "canflash --target samc21-swd --swd swclk=25,swdio=24,srst=18 out/klipper.elf (the seed's pins)",
      "or your own config: canflash --target openocd-swd --openocd-config my.cfg <file>",
    ],
  }),
  SWD_ADDRESS_NEEDED: (e) => ({
    exitCode: ExitCode.USAGE,
    causes: [
      "nothing was started or sent",
      "a .bin carries no address: OpenOCD must be told where it goes",
    ],
    next: [
      `canflash --target ${str(e, "target")} --address 0x08000000 … ${str(e, "file")} (an STM32's flash start)`,
      "or name the chip (--swd-chip stm32f103xe), or flash the .elf, which carries its addresses",
    ],
  }),
} satisfies HintTable;

// Hints for the STM32 ROM USART bootloader (what stm32flash talks to).

import { ExitCode } from "../exit-codes.js";
import { list, num, retryLine, str, type HintTable } from "./types.js";

const hex = (n: number | undefined) => (n === undefined ? "?" : `0x${n.toString(16)}`);
const refused = ["nothing was written"];

export const stm32Hints = {
  STM32_NO_ANSWER: (e, ctx) => ({
    exitCode: ExitCode.NO_NODE,
    causes: [
      e.prompted
        ? "BOOT0 was not high when the board came out of reset (set the BOOT0 jumper to 1, BOOT1 to 0, then press reset)"
        : "the board is not in its ROM bootloader: set BOOT0 high (BOOT1 low) and press reset",
      "TX and RX are not crossed (the adapter's TX goes to PA10, its RX to PA9 — USART1)",
      str(e, "mode") === "8e1"
        ? "the port cannot do even parity (a pty, some USB adapters): try --serial-mode 8n1"
        : "the line has no parity: on a real UART leave --serial-mode out (the ROM needs 8E1)",
      "noise or a byte before the sync made the ROM measure a wrong baud rate: press reset again",
      `the ROM measures ${num(e, "baud")} baud from the sync byte; above 115200 many parts cannot (-b 57600)`,
    ],
    next: retryLine(ctx),
  }),
  STM32_PROTOCOL: (_e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      "the line is noisy, or its mode or speed does not match the ROM's",
      "the board was reset in the middle (the ROM then waits for a new sync byte)",
      "keep BOOT0 high until a flash succeeds: with BOOT0 low a reset would start the partly written flash",
    ],
    next: retryLine(ctx),
  }),
  STM32_NACK: (e, ctx) => ({
    exitCode: ExitCode.FAILURE,
    causes: [
      str(e, "step") === "command"
        ? "the ROM refuses this command (readout protection, or a ROM without it)"
        : "the ROM refused an address or the data (protected or out-of-range flash, or a corrupted byte)",
      "the board stays in the ROM bootloader until the next reset: keep BOOT0 high until a flash succeeds (with BOOT0 low a reset would start the partly written flash)",
    ],
    next: retryLine(ctx),
  }),
  STM32_READOUT_PROTECTED: (e, ctx) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      "readout protection (RDP level 1) is on: the ROM answers only GET, GET_VERSION and GET_ID",
      "removing it erases the whole flash (the bootloader too, if one was installed) and resets the chip",
    ],
    next: [
      `stm32flash -k ${str(e, "port")}   (removes readout protection: mass erase, then the chip resets)`,
      "press reset with BOOT0 still high",
      ...retryLine(ctx),
    ],
  }),
  STM32_WRITE_PROTECTED: (e, ctx) => ({
    exitCode: ExitCode.REFUSED,
    causes: [...refused, "the option bytes write-protect pages the image needs"],
    next: [
      `stm32flash -u ${str(e, "port")}   (removes write protection; the chip resets)`,
      "press reset with BOOT0 still high",
      ...retryLine(ctx),
    ],
  }),
  STM32_UNKNOWN_PART: () => ({
    exitCode: ExitCode.REFUSED,
    causes: refused,
    next: ["flash it with stm32flash, and report the product id so canflash can learn it"],
  }),
  STM32_WRONG_PART: (e, ctx) => {
    const suggested = list(e, "suggestedTargets");
    const port = str(e, "port")!;
    const retry = (id: string): string =>
      ctx.retry?.includes("--target")
        ? ctx.retry.replace(/--target[ =]\S+/, `--target ${id}`)
        : `canflash --target ${id} -d ${port} <file>`;
    return {
      exitCode: ExitCode.REFUSED,
      causes: [...refused, `the board is not what --target ${str(e, "target")} describes`],
      next: suggested.length
        ? suggested.map(retry)
        : ["canflash targets — no stm32-usart row fits this chip; stm32flash can still flash it"],
    };
  },
  STM32_UART_NO_PARITY: (e) => ({
    exitCode: ExitCode.INTERFACE,
    causes: [
      "nothing was sent",
      "the Raspberry Pi's mini UART has no parity, and the STM32 ROM needs 8E1",
    ],
    next: [
      "use the full UART (PL011, /dev/ttyAMA0): add dtoverlay=disable-bt (or dtoverlay=miniuart-bt) to /boot/firmware/config.txt",
      "sudo systemctl disable hciuart; remove console=serial0,115200 from /boot/firmware/cmdline.txt (or raspi-config: no login shell on serial, serial port hardware on); reboot",
      `then: canflash … -d /dev/ttyAMA0 (not ${str(e, "port")}), or use a USB-serial adapter that does parity`,
    ],
  }),
  STM32_LINKED_FOR_OFFSET: (e) => {
    const off = num(e, "offset");
    return {
      exitCode: ExitCode.REFUSED,
      causes: [
        ...refused,
        `the image is built to run above a ${off !== undefined ? `${off / 1024} KiB ` : ""}bootloader, but the ROM writes it at ${hex(num(e, "placedAt"))}`,
      ],
      next: [
        'to run it without a bootloader: rebuild Klipper with Bootloader offset "No bootloader" (make menuconfig)',
        `or install that bootloader first (e.g. Katapult built for ${hex(num(e, "placedAt"))}) through the ROM, then flash this image through it`,
      ],
    };
  },
  STM32_NO_BOOTLOADER_BELOW: (e) => ({
    exitCode: ExitCode.REFUSED,
    causes: [
      ...refused,
      `the image starts at ${hex(num(e, "imageStart"))}, above the flash start, and ${str(e, "found") === "erased" ? "the flash below it is empty" : `the flash start holds ${str(e, "found")}`}: after a reset nothing would start it`,
    ],
    next: [
      'rebuild Klipper with Bootloader offset "No bootloader" (make menuconfig), or install the bootloader it is built for first',
    ],
  }),
  STM32_ERASE_UNSUPPORTED: () => ({
    exitCode: ExitCode.FAILURE,
    causes: refused,
    next: ["report the chip and its ROM version (canflash -s --target … -d …)"],
  }),
} satisfies HintTable;

import { defineConfig } from "vitest/config";

// The real-host-tool lane: Debian's bossac and stm32flash drive canflash's
// device models (the SAM-BA monitors, the STM32 ROM) on a pty, dfu-util
// drives the USB DFU models through canflash's stand-in libusb
// (test/peers/usb), openocd 0.12 programs the SAM C21/D21 SWD model behind
// a CMSIS-DAP v2 probe model through the same library (test/peers/openocd-swd),
// python-can's slcan interface drives the slcan adapter
// model, and canflash flashes a fresh model with the same image; the dumps
// must match (test/peers). openocd 0.12 is driven over its TCL RPC port
// (test/peers/openocd: the dummy adapter, remote_bitbang into the JTAG TAP
// model) and programs the SWD model behind a CMSIS-DAP probe model
// (test/peers/openocd-swd). Needs the Debian packages .ci/run installs
// (bossa-cli, stm32flash, dfu-util, libusb-1.0-0-dev, python3-can,
// python3-serial, openocd); `npm run test:peers` builds the CLI first. One tool at a
// time: the models answer in wall-clock time.
export default defineConfig({
  test: {
    include: ["test/peers/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 30_000,
  },
});

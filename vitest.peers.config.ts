import { defineConfig } from "vitest/config";

// The real-host-tool lane: Debian's bossac and stm32flash drive canflash's
// device models (the SAM-BA monitors, the STM32 ROM) on a pty, and canflash
// flashes a fresh model with the same image; the dumps must match
// (test/peers); python-can's slcan interface drives the slcan adapter
// model. Needs the Debian packages .ci/run installs (bossa-cli, stm32flash,
// python3-can, python3-serial); `npm run test:peers` builds the CLI first. One tool at a
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

import { defineConfig } from "vitest/config";

// The real-bootloader lane: Arduino bootloaders in simavr on a pty, flashed by
// canflash and by avrdude (test/avr). Needs the Debian packages .ci/run
// installs; `npm run test:avr` builds the CLI first. One board at a time: the
// simulations run at wall-clock speed and must not starve each other.
export default defineConfig({
  test: {
    include: ["test/avr/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 30_000,
  },
});

import { defineConfig } from "vitest/config";

// The default suite: everything that runs on any machine without a kernel CAN
// stack. The real-SocketCAN lane (test/vcan) runs inside User-Mode Linux via
// `npm run test:vcan`; see scripts/vcan-lane.mjs. The real AVR bootloaders in
// simavr (test/avr) run with `npm run test:avr` (vitest.avr.config.ts), the
// real bossac and stm32flash against the models (test/peers) with
// `npm run test:peers` (vitest.peers.config.ts).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/vcan/**", "test/avr/**", "test/peers/**", "node_modules/**"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 20_000,
  },
});

import { defineConfig } from "vitest/config";

// The default suite: everything that runs on any machine without a kernel CAN
// stack. The real-SocketCAN lane (test/vcan) runs inside User-Mode Linux via
// `npm run test:vcan`; see scripts/vcan-lane.mjs.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/vcan/**", "node_modules/**"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 20_000,
  },
});

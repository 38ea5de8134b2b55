import { defineConfig } from "vitest/config";

// The real-SocketCAN suite. Runs only inside User-Mode Linux through
// `npm run test:vcan` (scripts/vcan-lane.mjs), one file at a time: UML has
// one CPU, and the tests share the vcan interfaces.
export default defineConfig({
  test: {
    include: ["test/vcan/**/*.test.ts"],
    setupFiles: ["test/setup.ts", "test/vcan/guard.ts"],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});

// Runs around every test: a test that leaves a CAN bus endpoint open fails
// (python-can's fixture idea), after the endpoints are closed so the next
// test starts clean.
import { afterEach } from "vitest";
import { closeAllBuses, liveBuses } from "../src/can/registry.js";

afterEach(async () => {
  const open = liveBuses();
  if (open.length > 0) {
    const names = open.map((b) => b.channel).join(", ");
    await closeAllBuses();
    throw new Error(`test left ${open.length} CAN bus endpoint(s) open: ${names}`);
  }
});

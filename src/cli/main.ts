#!/usr/bin/env node
// canflash executable: wires the process (argv, streams, signals) to run().
import { processIo } from "./io.js";
import { run } from "./program.js";

// A reader that went away (canflash … | head) is not an error worth a trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const controller = new AbortController();
let interrupts = 0;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    interrupts++;
    if (interrupts > 1) process.exit(130); // a second Ctrl-C: stop now
    controller.abort(new Error(sig));
  });
}

const code = await run(process.argv.slice(2), processIo(), controller.signal);
// Loaded only now: a run that opened a bus has it loaded already; --help never pays for it.
await (await import("../flasher/buses.js")).closeAllOpenBuses();
process.exitCode = code;

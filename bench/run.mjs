// npm run bench: every benchmark, each printing its ratio against a floor or
// a peer measured in the same run. Exits 1 if a ratio misses its target.
import { benchBusModel, benchKatapultCan } from "./katapult-can.mjs";

let ok = true;
await benchBusModel();
ok = (await benchKatapultCan()) && ok;
if (!ok) {
  console.log("\nsome ratios are above their target");
  process.exitCode = 1;
}

// The vcan suite needs the interfaces scripts/vcan-lane.mjs creates inside
// User-Mode Linux; run it there, not on the host.
if (process.env.CANFLASH_VCAN !== "1") {
  throw new Error("test/vcan runs inside User-Mode Linux: use `npm run test:vcan`");
}

// The SWD model's time: microseconds that pass as the debugger clocks the
// wire (each transfer's bits at the SWJ clock, DAP_Delay, the USB
// round trip of each CMSIS-DAP command). The target's timed work (NVM page
// writes, erases) is measured against it, so a run is the same whatever
// the host's load. Pure.

export class SwdClock {
  nowUs = 0;
  advance(us: number): void {
    this.nowUs += us;
  }
}

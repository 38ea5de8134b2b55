@ canflash's SAM-BA applet (ARMv6-M Thumb: runs on Cortex-M0+, M3 and M4).
@
@ The monitor's G command loads SP from the vector's first word and jumps to
@ its second; the routine returns to the monitor through lr. Two entries:
@   copy    - `words` 32-bit words from `src` to `dst` (flash to RAM for a
@             read-back, RAM to a flash page latch on the NVMCTRL chips)
@   program - EEFC (SAM3/SAM4): for each of `pages` pages, wait for FRDY,
@             copy `words` words from `src` into the page latch at `dst`,
@             write `fcrval` to the FCR at `fcr` (key, page in FARG, command),
@             then the next page (FARG + 1); at the end wait for FRDY and
@             store 1 in `result`, or, at the first FSR with an error bit
@             (FCMDE bit 1, FLOCKE bit 2, FLERR bit 3), stop and store it.
@ Only r0-r3 (the caller-saved registers) are used and the stack is never
@ touched: the monitor's own state survives, wherever its stack lies.

        .syntax unified
        .cpu    cortex-m0plus
        .thumb
        .text

        .global copy
copy:
        adr     r3, params
        ldmia   r3!, {r0, r1, r2}       @ dst, src, words
        cmp     r2, #0
        beq     copied
copy_word:
        ldmia   r1!, {r3}
        stmia   r0!, {r3}
        subs    r2, #1
        bne     copy_word
copied:
        bx      lr

        .global program
program:
        adr     r3, params
        ldmia   r3!, {r0, r1}           @ dst, src
next_page:
        ldr     r3, fcr
wait_ready:
        ldr     r2, [r3, #4]            @ FSR (FCR + 4)
        cmp     r2, #1
        beq     latch_page              @ FRDY, no error bit
        cmp     r2, #0
        beq     wait_ready              @ busy
        b       done                    @ an error bit: report the FSR
latch_page:
        ldr     r2, words
latch_word:
        ldmia   r1!, {r3}
        stmia   r0!, {r3}
        subs    r2, #1
        bne     latch_word
        ldr     r3, fcr
        ldr     r2, fcrval
        str     r2, [r3]                @ FCR: 0x5A << 24 | page << 8 | command
        adds    r2, #0x80
        adds    r2, #0x80               @ FARG + 1: the next page
        adr     r3, fcrval
        str     r2, [r3]
        ldr     r2, [r3, #4]            @ pages left
        subs    r2, #1
        str     r2, [r3, #4]
        bne     next_page
        ldr     r3, fcr
last_ready:
        ldr     r2, [r3, #4]
        cmp     r2, #0
        beq     last_ready              @ the last page still programs
done:
        adr     r3, result
        str     r2, [r3]                @ 1: every page written; else the FSR with its error bits
        bx      lr

        .align  2
params:
dst:    .word   0
src:    .word   0
words:  .word   0
fcr:    .word   0
fcrval: .word   0
pages:  .word   0
result: .word   0
        @ the vector G points at: SP, then the entry (address + 1, Thumb)
stack:  .word   0
entry:  .word   0

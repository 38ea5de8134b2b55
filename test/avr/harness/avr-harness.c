/*
 * avr-harness: a real Arduino bootloader running in simavr, its UART0 on a
 * pseudo-terminal, so a host flasher talks to it like to a USB-serial
 * Arduino. Written for canflash's tests (see docs/testing-avr.md beside the
 * project for the facts this follows).
 *
 *   avr-harness --mcu atmega2560 --boot stk500boot_v2_mega2560.hex \
 *               --dump flash.bin [--freq 16000000] [--link /tmp/ttyAVR] \
 *               [--no-baud-check] [--dead]
 *
 * Prints "ready <pty>" when listening. On SIGTERM/SIGINT writes the flash
 * below the bootloader to --dump and exits 0.
 *
 * Behaviour, and why:
 * - Auto-reset: a pty has no DTR, so opening the port stands in for it (Linux
 *   raises DTR on open, which resets an Arduino): each time the slave side is
 *   opened the chip gets an external reset (MCUSR = EXTRF) and starts at the
 *   bootloader; the bootloaders only stay after an external reset.
 * - Time: simulated time is kept at wall time (never ahead), so listen
 *   windows and watchdogs behave as on a board.
 * - UART: input is fed only while simavr's UART signals room (XON), output
 *   goes out as produced; simavr's poll-sleep is switched off.
 * - Baud: the host's termios speed is compared with the chip's UBRR/U2X
 *   setting; beyond 4 % apart bytes are dropped both ways, as a real UART
 *   would garble them.
 * - Closing the port does not stop the board: it runs on (its output is
 *   lost), so a bootloader that was told to leave starts the application.
 * - --dead: opening the port resets nothing and the chip never runs, like a
 *   port with no powered board (or no bootloader) behind it.
 * - Once the bootloader jumps into the application (PC below the bootloader)
 *   the chip is frozen until the next reset: the test image is random bytes,
 *   not code, and must not run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "avr_uart.h"
#include "sim_avr.h"
#include "sim_hex.h"
#include "sim_io.h"
#include "sim_irq.h"
#include "sim_regbit.h"

/* UART0 registers at the same addresses on every part used here (m168/328p/1280/2560). */
#define REG_UCSR0A 0xC0
#define REG_UBRR0L 0xC4
#define REG_UBRR0H 0xC5
#define REG_UCSR0B 0xC1
#define BIT_RXEN0 4
#define BIT_U2X0 1

#define QUEUE_SIZE 65536
#define BAUD_TOLERANCE 0.04
/* While the port is closed, look for it being opened this often. */
#define CLOSED_POLL_US 2000
/* Longest the loop sleeps while the chip has caught up with wall time. */
#define IDLE_POLL_MS 1

typedef struct {
	uint8_t data[QUEUE_SIZE];
	size_t head, len;
} queue_t;

static avr_t *avr;
static int master = -1;
static uint32_t boot_start;
static int baud_check = 1;
static int dead; /* --dead: the chip never leaves reset (a port with nothing alive behind it) */
static volatile sig_atomic_t stop_requested;
static int xon = 1;
static int frozen = 1; /* nothing runs before the first reset */
static queue_t inq, outq;
static avr_irq_t *uart_in;
static int last_mismatch = -1;

static void q_push(queue_t *q, uint8_t b)
{
	if (q->len == QUEUE_SIZE) return; /* a host flooding a stopped chip: drop */
	q->data[(q->head + q->len) % QUEUE_SIZE] = b;
	q->len++;
}

static uint8_t q_pop(queue_t *q)
{
	uint8_t b = q->data[q->head];
	q->head = (q->head + 1) % QUEUE_SIZE;
	q->len--;
	return b;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int speed_to_int(speed_t s)
{
	switch (s) {
	case B1200: return 1200;
	case B2400: return 2400;
	case B4800: return 4800;
	case B9600: return 9600;
	case B19200: return 19200;
	case B38400: return 38400;
	case B57600: return 57600;
	case B115200: return 115200;
	case B230400: return 230400;
	case B460800: return 460800;
	case B500000: return 500000;
	case B921600: return 921600;
	case B1000000: return 1000000;
	default: return 0;
	}
}

/* Is the chip's receiver on? Before the bootloader sets up its UART, bytes are lost, as on a board. */
static int receiver_on(void)
{
	return (avr->data[REG_UCSR0B] >> BIT_RXEN0) & 1;
}

/* Do host and chip agree on the line speed? Reports changes on stderr. */
static int baud_ok(void)
{
	if (!baud_check) return 1;
	struct termios t;
	if (tcgetattr(master, &t) != 0) return 1;
	int host = speed_to_int(cfgetospeed(&t));
	unsigned ubrr = ((avr->data[REG_UBRR0H] & 0x0f) << 8) | avr->data[REG_UBRR0L];
	int u2x = (avr->data[REG_UCSR0A] >> BIT_U2X0) & 1;
	double chip = (double)avr->frequency / ((u2x ? 8.0 : 16.0) * (ubrr + 1));
	int ok = host > 0 && chip > 0 && (host > chip ? host / chip : chip / host) - 1.0 <= BAUD_TOLERANCE;
	if (last_mismatch < 0 || ok != (last_mismatch == 0)) {
		if (!ok) fprintf(stderr, "baud mismatch: host %d, chip %.0f: bytes dropped\n", host, chip);
		else fprintf(stderr, "baud %d matches the chip (%.0f)\n", host, chip);
		last_mismatch = ok ? 0 : 1;
	}
	return ok;
}

static void feed(void)
{
	while (xon && inq.len > 0 && !frozen) avr_raise_irq(uart_in, q_pop(&inq));
}

static void on_uart_out(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq; (void)param;
	if (baud_ok()) q_push(&outq, (uint8_t)value);
}

static void on_xon(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq; (void)value; (void)param;
	xon = 1;
	feed();
}

static void on_xoff(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq; (void)value; (void)param;
	xon = 0;
}

static void reset_external(void)
{
	if (dead) {
		fprintf(stderr, "%.3f open: nothing runs (--dead)\n", now_s());
		return;
	}
	avr_reset(avr);
	avr->pc = boot_start;
	/* MCUSR: only the external-reset flag, as after a press of RESET / a DTR pulse. */
	if (avr->reset_flags.extrf.reg) {
		avr_regbit_clear(avr, avr->reset_flags.porf);
		avr_regbit_clear(avr, avr->reset_flags.borf);
		avr_regbit_clear(avr, avr->reset_flags.wdrf);
		avr_regbit_set(avr, avr->reset_flags.extrf);
	}
	frozen = 0;
	inq.len = 0;
	fprintf(stderr, "%.3f reset: external, pc 0x%x\n", now_s(), boot_start);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int load_bootloader(const char *path)
{
	ihex_chunk_p chunks = NULL;
	int n = read_ihex_chunks(path, &chunks);
	if (n <= 0) {
		fprintf(stderr, "cannot read %s\n", path);
		return -1;
	}
	boot_start = UINT32_MAX;
	for (int i = 0; i < n; i++) {
		if (chunks[i].size == 0) continue;
		if (chunks[i].baseaddr + chunks[i].size > avr->flashend + 1) {
			fprintf(stderr, "%s: chunk at 0x%x does not fit the flash\n", path, chunks[i].baseaddr);
			return -1;
		}
		avr_loadcode(avr, chunks[i].data, chunks[i].size, chunks[i].baseaddr);
		if (chunks[i].baseaddr < boot_start) boot_start = chunks[i].baseaddr;
	}
	free_ihex_chunks(chunks);
	avr->reset_pc = boot_start;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: avr-harness --mcu <part> --boot <hex> --dump <file> [--freq hz] [--link path] [--no-baud-check] [--dead]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mcu = NULL, *boot = NULL, *dump = NULL, *link = NULL;
	unsigned long freq = 16000000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mcu") && i + 1 < argc) mcu = argv[++i];
		else if (!strcmp(argv[i], "--boot") && i + 1 < argc) boot = argv[++i];
		else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump = argv[++i];
		else if (!strcmp(argv[i], "--link") && i + 1 < argc) link = argv[++i];
		else if (!strcmp(argv[i], "--freq") && i + 1 < argc) freq = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--no-baud-check")) baud_check = 0;
		else if (!strcmp(argv[i], "--dead")) dead = 1;
		else usage();
	}
	if (!mcu || !boot || !dump) usage();

	avr = avr_make_mcu_by_name(mcu);
	if (!avr) {
		fprintf(stderr, "simavr does not know %s\n", mcu);
		return 1;
	}
	avr_init(avr);
	avr->frequency = freq;
	if (load_bootloader(boot) != 0) return 1;

	uint32_t flags = 0;
	avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
	flags &= ~(AVR_UART_FLAG_POLL_SLEEP | AVR_UART_FLAG_STDIO);
	avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
	uart_in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), on_uart_out, NULL);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), on_xon, NULL);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), on_xoff, NULL);

	master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
		perror("pty");
		return 1;
	}
	const char *slave = ptsname(master);
	/* Until the slave side has been opened and closed once, the master does not
	 * report POLLHUP; open and close it so "closed" is the starting state. */
	int probe = open(slave, O_RDWR | O_NOCTTY);
	if (probe >= 0) close(probe);
	if (link) {
		unlink(link);
		if (symlink(slave, link) != 0) perror("symlink");
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	printf("ready %s\n", slave);
	fflush(stdout);

	int was_open = 0;
	double wall0 = now_s();
	avr_cycle_count_t cycle0 = avr->cycle;
	while (!stop_requested) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		poll(&p, 1, 0);
		int open_now = !(p.revents & POLLHUP);
		if (open_now && !was_open) {
			/* The port was opened: the DTR edge resets the board into its bootloader. */
			reset_external();
			wall0 = now_s();
			cycle0 = avr->cycle;
		}
		was_open = open_now;
		if (open_now && (p.revents & POLLIN)) {
			uint8_t buf[4096];
			ssize_t n = read(master, buf, sizeof buf);
			int ok = receiver_on() && baud_ok();
			for (ssize_t i = 0; i < n; i++)
				if (ok && !frozen) q_push(&inq, buf[i]);
		}
		feed();

		/* Run the chip up to wall time. */
		avr_cycle_count_t target = cycle0 + (avr_cycle_count_t)((now_s() - wall0) * avr->frequency);
		while (!frozen && avr->cycle < target) {
			int state = avr_run(avr);
			if (state == cpu_Done || state == cpu_Crashed) {
				fprintf(stderr, "cpu stopped (state %d) at pc 0x%x\n", state, avr->pc);
				frozen = 1;
			} else if (avr->pc < boot_start) {
				fprintf(stderr, "%.3f app: bootloader left for 0x%x\n", now_s(), avr->pc);
				frozen = 1;
			}
		}
		if (frozen) {
			/* Frozen: keep simulated time with the wall for the next reset. */
			cycle0 = avr->cycle;
			wall0 = now_s();
		}

		/* A closed port: the board keeps running, its output goes nowhere. */
		if (!open_now) outq.len = 0;
		while (outq.len > 0) {
			uint8_t chunk[4096];
			size_t n = 0;
			while (n < sizeof chunk && n < outq.len) {
				chunk[n] = outq.data[(outq.head + n) % QUEUE_SIZE];
				n++;
			}
			ssize_t w = write(master, chunk, n);
			if (w <= 0) break;
			outq.head = (outq.head + (size_t)w) % QUEUE_SIZE;
			outq.len -= (size_t)w;
		}
		if (!open_now) {
			usleep(CLOSED_POLL_US);
		} else if (frozen || avr->cycle >= target) {
			struct pollfd q = { .fd = master, .events = POLLIN };
			poll(&q, 1, IDLE_POLL_MS);
		}
	}

	FILE *f = fopen(dump, "wb");
	if (!f || fwrite(avr->flash, 1, boot_start, f) != boot_start || fclose(f) != 0) {
		perror(dump);
		return 1;
	}
	fprintf(stderr, "dump: %u bytes to %s\n", boot_start, dump);
	if (link) unlink(link);
	return 0;
}

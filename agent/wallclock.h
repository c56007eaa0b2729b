/*
 * wallclock: the real-time clock in milliseconds.
 *
 * DESIGN: expiry and renewal times are wall-clock instants (a
 * certificate's NotAfter, a token's expiry), so they are judged on
 * CLOCK_REALTIME when a timer fires, never only on a monotonic
 * countdown: after a suspend or an NTP step the uv timers may be late or
 * early, the wall clock is what the certificate is checked against.
 */
#ifndef CERTAGENT_WALLCLOCK_H
#define CERTAGENT_WALLCLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif

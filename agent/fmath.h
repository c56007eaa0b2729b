/*
 * fmath: trunc, floor and ceil without libm.
 *
 * At -O2 gcc expands the libm calls inline; at -Os (the release flags)
 * it calls libm, and the small build, which must load libc alone, would
 * need libm.so.6.  These are exact for every double: a magnitude of
 * 2^52 or more (and an infinity, a NaN) has no fraction and is returned
 * as it is; below it the value fits a long long.  The sign of a zero
 * result follows the argument, as libm's does (Go prints -0).
 */
#ifndef CERTAGENT_FMATH_H
#define CERTAGENT_FMATH_H

static inline double
fm_trunc(double x)
{
	if (!(__builtin_fabs(x) < 4503599627370496.0))	/* 2^52 */
		return x;
	return __builtin_copysign((double)(long long)x, x);
}

static inline double
fm_floor(double x)
{
	double t = fm_trunc(x);

	return t > x ? t - 1 : t;
}

static inline double
fm_ceil(double x)
{
	double t = fm_trunc(x);

	return t < x ? t + 1 : t;
}

#endif

package clib

import "math"

// Atoi is glibc's atoi: (int) strtol(s, NULL, 10), on a machine with a
// 64-bit long and a 32-bit int. Leading white space and one sign are
// skipped, decimal digits read up to the first non-digit, and anything
// after ignored; no digits read as 0. A value outside a long saturates
// (LONG_MAX, LONG_MIN) and the conversion to int keeps the low 32 bits, so
// "4294967299" is 3 and "99999999999999999999" is -1, as keyctl's
// watch_add sees them.
func Atoi(s string) int32 {
	neg, _, i := prefix(s, 10)
	n, i, overflow := digits(s, i, 10)
	if i < 0 {
		return 0
	}
	var v int64
	switch {
	case neg && (overflow || n > -math.MinInt64):
		v = math.MinInt64
	case neg:
		v = -int64(n) // n = 2^63 negates to MinInt64, as it should
	case overflow || n > math.MaxInt64:
		v = math.MaxInt64
	default:
		v = int64(n)
	}
	return int32(v)
}

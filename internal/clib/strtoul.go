package clib

import (
	"errors"
	"math"
	"math/bits"
)

// ErrRange is what Strtoul returns for a number too large for an unsigned
// long, where glibc sets errno to ERANGE.
var ErrRange = errors.New("clib: number out of range")

// Strtoul reads an unsigned number from the front of s exactly as glibc's
// strtoul does for a 64-bit unsigned long, and returns it with the unread
// rest of s. keyctl accepts an argument only if the rest is empty, so
// strtoul's quirks are part of its grammar:
//
//   - leading white space (IsSpace) is skipped, trailing white space is
//     not: " 0x10" is read whole, "0x10 " leaves " ";
//   - one '+' or '-' may follow; '-' negates in unsigned arithmetic, so
//     "-3" is 2^64-3 and "-0" is 0;
//   - base 0 reads hex after "0x" or "0X", octal after "0", decimal
//     otherwise; base 16 also takes the "0x". "0x" counts as a prefix only
//     if a hex digit follows: otherwise the "0" is the number and "x..."
//     the rest ("0xg" is 0, rest "xg");
//   - there is no "0b" or "0o" prefix and no '_' separator;
//   - when no digit is read the result is 0 and the rest is all of s,
//     which for "" is empty: callers that must tell "" from "0" compare
//     rest with s;
//   - a value that does not fit is math.MaxUint64 with ErrRange, whatever
//     the sign, and the rest starts after the last digit.
//
// base is 0 or 2..36; other bases are a caller bug and panic.
func Strtoul(s string, base int) (n uint64, rest string, err error) {
	if base != 0 && (base < 2 || base > 36) {
		panic("clib: strtoul base out of range")
	}
	neg, base, i := prefix(s, base)
	n, i, overflow := digits(s, i, base)
	if i < 0 {
		return 0, s, nil // no digits: nothing converted
	}
	if overflow {
		return math.MaxUint64, s[i:], ErrRange
	}
	if neg {
		n = -n
	}
	return n, s[i:], nil
}

// prefix skips what comes before strtoul's digits (white space, a sign,
// "0x") and returns the sign, the base the digits are read in, and where
// they start.
func prefix(s string, base int) (neg bool, _ int, i int) {
	for i < len(s) && IsSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	hex := i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && DigitValue(s[i+2]) < 16
	switch {
	case hex && (base == 0 || base == 16):
		return neg, 16, i + 2
	case base == 0 && i < len(s) && s[i] == '0':
		return neg, 8, i
	case base == 0:
		return neg, 10, i
	}
	return neg, base, i
}

// digits reads the digits of base from s[i:] and returns their value, the
// index after the last one (-1 if there was none), and whether the value
// overflowed 64 bits, in which case n is meaningless.
func digits(s string, i, base int) (n uint64, end int, overflow bool) {
	start := i
	for ; i < len(s); i++ {
		d := DigitValue(s[i])
		if d >= base {
			break
		}
		hi, lo := bits.Mul64(n, uint64(base))
		lo, carry := bits.Add64(lo, uint64(d), 0)
		overflow = overflow || hi != 0 || carry != 0
		n = lo
	}
	if i == start {
		return 0, -1, false
	}
	return n, i, overflow
}

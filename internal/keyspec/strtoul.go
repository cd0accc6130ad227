package keyspec

import "math"

// Strtoul reads an unsigned number from the front of s exactly as glibc's
// strtoul does, and returns it with the unread rest of s. keyctl accepts an
// argument only if the rest is empty, so strtoul's quirks are part of its
// grammar: leading white space and one sign are skipped, a '-' negates in
// unsigned arithmetic ("-3" is 2^64-3), base 0 picks hex after "0x" and octal
// after "0", and a value too large saturates at the maximum. When no digit
// is read the rest is all of s, which for "" is empty: "" reads as 0.
//
// base is 0 or 2..36; other bases are a caller bug and panic.
func Strtoul(s string, base int) (uint64, string) {
	if base != 0 && (base < 2 || base > 36) {
		panic("keyspec: strtoul base out of range")
	}
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	// "0x" counts as a prefix only if a hex digit follows; otherwise the
	// "0" alone is the number and "x..." is the rest, as in glibc.
	if (base == 0 || base == 16) && i+1 < len(s) && s[i] == '0' && (s[i+1]|0x20) == 'x' &&
		i+2 < len(s) && digitValue(s[i+2]) < 16 {
		i += 2
		base = 16
	} else if base == 0 {
		base = 10
		if i < len(s) && s[i] == '0' {
			base = 8
		}
	}
	start := i
	var n uint64
	overflow := false
	for ; i < len(s); i++ {
		d := digitValue(s[i])
		if d >= base {
			break
		}
		if n > (math.MaxUint64-uint64(d))/uint64(base) {
			overflow = true
		}
		n = n*uint64(base) + uint64(d)
	}
	if i == start {
		return 0, s
	}
	if overflow {
		// glibc returns ULONG_MAX with ERANGE whatever the sign.
		return math.MaxUint64, s[i:]
	}
	if neg {
		n = -n
	}
	return n, s[i:]
}

func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// digitValue is c's value as a digit in bases up to 36, or 36 if none.
func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 36
}

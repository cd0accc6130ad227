package perms

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// ErrUnparsable is returned, wrapped, by ParseMask for text that is not a
// number; keyctl setperm reports it as "Unparsable permissions: '<arg>'".
var ErrUnparsable = errors.New("perms: unparsable permissions")

// ParseMask reads a mask as keyctl setperm takes it: a number in C's
// strtoul base-0 syntax that must use the whole string. Checked against
// glibc's strtoul:
//
//   - leading C whitespace (space, \t, \n, \v, \f, \r) is skipped, trailing
//     whitespace is not, so " 0x10" parses and "0x10 " does not;
//   - one optional sign follows: '+' is ignored, '-' negates the value
//     modulo 2^64 as strtoul does, so "-0" is 0 and "-1" does not fit;
//   - "0x" or "0X" followed by a hex digit means hex ("0x-1" and "+0x10"
//     behave as strtoul's, rejected and 16); a lone "0x" is the number 0
//     followed by garbage, so rejected; a leading 0 means octal ("010" is 8,
//     "08" rejected); anything else is decimal;
//   - there is no "0b" or "0o" prefix and no '_' separator.
//
// Two deliberate differences from keyutils, which parses into a uint32
// and checks only that nothing follows the number: the empty string, which
// keyutils takes as 0, is rejected; and so is a value above 0xffffffff
// (strtoul's ERANGE, or an unsigned long too big for a mask), which keyutils
// truncates to its low 32 bits: "4294967296" would set the mask to 0.
//
// Any 32-bit value parses, including masks that Validate rejects: keyctl
// setperm sends those to the kernel, which fails with EINVAL, a different
// message from ErrUnparsable. Errors wrap ErrUnparsable.
func ParseMask(s string) (Mask, error) {
	v, ok := parseStrtoul(s)
	if !ok || v > math.MaxUint32 {
		return 0, fmt.Errorf("perms: parse mask %q: %w", s, ErrUnparsable)
	}
	return Mask(v), nil
}

// parseStrtoul returns the value strtoul(s, &end, 0) computes for an
// unsigned long of 64 bits, and whether it converted s to its end without
// overflow (ERANGE).
func parseStrtoul(s string) (uint64, bool) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	negative := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		negative = s[i] == '-'
		i++
	}
	base := uint64(10)
	switch {
	case i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && digitValue(s[i+2]) < 16:
		base = 16
		i += 2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	if i == len(s) {
		return 0, false // no digits: nothing converted
	}
	var v uint64
	for ; i < len(s); i++ {
		d := uint64(digitValue(s[i]))
		if d >= base {
			return 0, false // stops short of the end
		}
		hi, lo := bits.Mul64(v, base)
		lo, carry := bits.Add64(lo, d, 0)
		if hi != 0 || carry != 0 {
			return 0, false // ERANGE
		}
		v = lo
	}
	if negative {
		v = -v
	}
	return v, true
}

// isCSpace reports whether b is a space in the C locale's isspace.
func isCSpace(b byte) bool {
	return b == ' ' || ('\t' <= b && b <= '\r')
}

// digitValue returns the value of b as a digit in any base up to 36, or 36
// if it is none.
func digitValue(b byte) byte {
	switch {
	case '0' <= b && b <= '9':
		return b - '0'
	case 'a' <= b && b <= 'z':
		return b - 'a' + 10
	case 'A' <= b && b <= 'Z':
		return b - 'A' + 10
	}
	return 36
}

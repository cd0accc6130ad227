//go:build linux

package perms

import (
	"errors"
	"fmt"
	"math"

	"github.com/keyctl-go/keyctl-go/internal/clib"
)

// ErrUnparsable is returned, wrapped, by ParseMask for text that is not a
// number; keyctl setperm reports it as "Unparsable permissions: '<arg>'".
var ErrUnparsable = errors.New("perms: unparsable permissions")

// ParseMask reads a mask as keyctl setperm takes it: a number in C's
// strtoul base-0 syntax (clib.Strtoul) that must use the whole string:
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
	v, rest, err := clib.Strtoul(s, 0)
	if err != nil || rest != "" || s == "" || v > math.MaxUint32 { // "" reads as 0, with nothing read
		return 0, fmt.Errorf("perms: parse mask %q: %w", s, ErrUnparsable)
	}
	return Mask(v), nil
}

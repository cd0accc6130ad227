package clib_test

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/internal/clib"
)

// strtoulCases were checked against glibc's strtoul (TestAgainstGlibc runs
// them through it again where a C compiler is installed).
var strtoulCases = []struct {
	s    string
	base int
	want uint64
	rest string
	err  error
}{
	{"10", 10, 10, "", nil},
	{"0x10", 10, 0, "x10", nil},
	{"-1", 10, math.MaxUint64, "", nil},
	{"0x10", 0, 16, "", nil},
	{"0X3F010000", 0, 0x3f010000, "", nil},
	{"0x10", 16, 16, "", nil},
	{"10", 16, 16, "", nil},
	{"0xg", 0, 0, "xg", nil},
	{"0x", 0, 0, "x", nil},
	{"0x", 16, 0, "x", nil},
	{"\t\n\v\f\r 7z", 0, 7, "z", nil},
	{"zz", 36, 36*35 + 35, "", nil},
	{"x", 0, 0, "x", nil},
	{"", 0, 0, "", nil},
	{" ", 0, 0, " ", nil},
	{"+", 0, 0, "+", nil},
	{"-", 0, 0, "-", nil},
	{"+-1", 0, 0, "+-1", nil},
	{" +  5", 0, 0, " +  5", nil},
	{"12 ", 0, 12, " ", nil},
	{"010", 0, 8, "", nil},
	{"08", 0, 0, "8", nil},
	{"0b101", 0, 0, "b101", nil},
	{"1_0", 0, 1, "_0", nil},
	{"-0", 0, 0, "", nil},
	{"-0x1", 0, math.MaxUint64, "", nil},
	{"0x-1", 0, 0, "x-1", nil},
	{"+0x10", 0, 16, "", nil},
	{"\xa05", 0, 0, "\xa05", nil},
	{"\u00a05", 0, 0, "\u00a05", nil},
	{"0x3f\x00", 0, 0x3f, "\x00", nil},
	{"18446744073709551615", 0, math.MaxUint64, "", nil},
	{"-18446744073709551615", 0, 1, "", nil},
	{"18446744073709551616", 0, math.MaxUint64, "", clib.ErrRange},
	{"-18446744073709551616", 0, math.MaxUint64, "", clib.ErrRange},
	{"0x10000000000000000z", 0, math.MaxUint64, "z", clib.ErrRange},
	{"99999999999999999999999", 10, math.MaxUint64, "", clib.ErrRange},
	{"4294967296", 0, 1 << 32, "", nil},
}

func TestStrtoul(t *testing.T) {
	for _, tt := range strtoulCases {
		n, rest, err := clib.Strtoul(tt.s, tt.base)
		if n != tt.want || rest != tt.rest || err != tt.err {
			t.Errorf("Strtoul(%q, %d) = %d, %q, %v; want %d, %q, %v", tt.s, tt.base, n, rest, err, tt.want, tt.rest, tt.err)
		}
	}
}

func TestStrtoulBadBasePanics(t *testing.T) {
	for _, base := range []int{-1, 1, 37} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Strtoul base %d did not panic", base)
				}
			}()
			clib.Strtoul("1", base)
		}()
	}
}

var atoiCases = []struct {
	s    string
	want int32
}{
	{"3", 3}, {" 9", 9}, {"+7", 7}, {"-12", -12}, {"4x", 4}, {"x4", 0}, {"", 0},
	{"0x10", 0}, {"010", 10}, {"2147483647", math.MaxInt32}, {"2147483648", math.MinInt32},
	{"4294967299", 3}, {"99999999999999999999", -1}, {"-99999999999999999999", 0},
	{"9223372036854775807", -1}, {"-9223372036854775808", 0}, {"-9223372036854775809", 0},
}

func TestAtoi(t *testing.T) {
	for _, tt := range atoiCases {
		if got := clib.Atoi(tt.s); got != tt.want {
			t.Errorf("Atoi(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

func TestCType(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		if got, want := clib.IsSpace(b), strings.IndexByte(" \t\n\v\f\r", b) >= 0; got != want {
			t.Errorf("IsSpace(%#02x) = %v", c, got)
		}
		if got, want := clib.IsPrint(b), c >= 0x20 && c < 0x7f; got != want {
			t.Errorf("IsPrint(%#02x) = %v", c, got)
		}
		if got, want := clib.DigitValue(b) < 16, strings.IndexByte("0123456789abcdefABCDEF", b) >= 0; got != want {
			t.Errorf("DigitValue(%#02x) = %d: isxdigit %v", c, clib.DigitValue(b), want)
		}
	}
	if clib.IsSpaceRune('\u00a0') || clib.IsSpaceRune('\u2003') || !clib.IsSpaceRune('\v') {
		t.Error("IsSpaceRune takes a non-ASCII rune for a space, or \\v for none")
	}
}

// FuzzStrtoul checks Strtoul against strconv on what it says it read: the
// rest is a tail of s, and the digits before it (after the white space,
// the sign and a "0x") are the value strconv.ParseUint reads, negated for
// a '-', or out of range exactly when strconv says so.
func FuzzStrtoul(f *testing.F) {
	for _, tt := range strtoulCases {
		f.Add(tt.s, uint8(tt.base))
	}
	f.Fuzz(func(t *testing.T, s string, b uint8) {
		base := int(b) % 37
		if base == 1 {
			base = 0
		}
		n, rest, err := clib.Strtoul(s, base)
		if !strings.HasSuffix(s, rest) {
			t.Fatalf("Strtoul(%q, %d): rest %q is not a tail", s, base, rest)
		}
		if rest == s {
			if n != 0 || err != nil {
				t.Fatalf("Strtoul(%q, %d) read nothing but returned %d, %v", s, base, n, err)
			}
			return
		}
		read := strings.TrimLeft(s[:len(s)-len(rest)], " \t\n\v\f\r")
		neg := strings.HasPrefix(read, "-")
		read = strings.TrimLeft(read, "+-")
		if (base == 0 || base == 16) && len(read) > 2 && (read[:2] == "0x" || read[:2] == "0X") {
			read, base = read[2:], 16
		}
		if base == 0 {
			base = 10
			if strings.HasPrefix(read, "0") {
				base = 8
			}
		}
		want, perr := strconv.ParseUint(read, base, 64)
		switch {
		case errors.Is(perr, strconv.ErrRange):
			if err != clib.ErrRange || n != math.MaxUint64 {
				t.Fatalf("Strtoul(%q) = %d, %v; strconv says out of range", s, n, err)
			}
		case perr != nil:
			t.Fatalf("Strtoul(%q) read %q, which strconv rejects in base %d: %v", s, read, base, perr)
		default:
			if neg {
				want = -want
			}
			if n != want || err != nil {
				t.Fatalf("Strtoul(%q) = %d, %v; strconv reads %d", s, n, err, want)
			}
		}
	})
}

// FuzzAtoi checks that Atoi is strtoul's decimal reading, saturated to a
// long and cut to 32 bits.
func FuzzAtoi(f *testing.F) {
	for _, tt := range atoiCases {
		f.Add(tt.s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := clib.Atoi(s)
		n, _, err := clib.Strtoul(s, 10)
		neg := strings.HasPrefix(strings.TrimLeft(s, " \t\n\v\f\r"), "-")
		mag := n
		if neg {
			mag = -n
		}
		var want int64
		switch {
		case err != nil && neg, neg && mag > 1<<63:
			want = math.MinInt64
		case err != nil, !neg && mag > math.MaxInt64:
			want = math.MaxInt64
		default:
			want = int64(n)
		}
		if got != int32(want) {
			t.Fatalf("Atoi(%q) = %d, want %d", s, got, int32(want))
		}
	})
}

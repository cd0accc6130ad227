//go:build linux

package perms_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/perms"
)

// TestParseMask's accepted and rejected inputs were run through glibc's
// strtoul(s, &end, 0) with a check that *end == '\0'; the two cases where
// keyutils accepts what ParseMask rejects are marked.
func TestParseMask(t *testing.T) {
	accepted := []struct {
		in   string
		want perms.Mask
	}{
		{"0x3f010000", 0x3f010000},
		{"0X3F010000", 0x3f010000},
		{"0x3F3f3F3f", 0x3f3f3f3f},
		{"1057030144", 0x3f010000},
		{"07700200000", 0x3f010000},
		{"0", 0},
		{"00", 0},
		{"010", 8},
		{"+5", 5},
		{"+0x10", 0x10},
		{"-0", 0},
		{"-0x0", 0},
		{" 12", 12},
		{"\t\n\v\f\r 0x10", 0x10},
		{" -0", 0},
		{"0x00000000000000000000000000001", 1},
		{"00000000000000000000000000000000000000017", 15},
		{"4294967295", 0xffffffff}, // parses; Validate rejects it
		{"0xFFFFFFFF", 0xffffffff},
		{"037777777777", 0xffffffff},
		// strtoul negates modulo 2^64: this is 1, not an error.
		{"-18446744073709551615", 1},
	}
	for _, tt := range accepted {
		t.Run(tt.in, func(t *testing.T) {
			got, err := perms.ParseMask(tt.in)
			if err != nil {
				t.Fatalf("ParseMask(%q) = %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseMask(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}

	rejected := []string{
		"", // keyutils takes this as 0
		" ",
		"+",
		"-",
		"++1",
		"+-1",
		" +  5",
		"12 ",
		"0x",
		"0X",
		"0x ",
		"0xg",
		"-0x",
		"0x-1",
		"0x+1",
		"00x1",
		"0x0x1",
		"08",
		"099",
		"0b101",
		"0o17",
		"1_0",
		"1e3",
		"0.5",
		"abc",
		"\xa05",    // not a C-locale space
		"\u00a05",  // nor is a UTF-8 no-break space
		"\uff11",   // fullwidth digit one
		"0x3f\x00", // a NUL is not the end of a Go string
		"-1",       // 2^64-1 does not fit in 32 bits
		"-0x1",
		"4294967296", // keyutils truncates this to 0
		"040000000000",
		"0x1ffffffff",
		"18446744073709551615",
		"18446744073709551616", // ERANGE
		"-18446744073709551616",
		"0xffffffffffffffff",
		"0x10000000000000000",
	}
	for _, in := range rejected {
		t.Run(in, func(t *testing.T) {
			got, err := perms.ParseMask(in)
			if err == nil {
				t.Fatalf("ParseMask(%q) = %v, want an error", in, got)
			}
			checkUnparsable(t, err, in)
		})
	}
}

// FuzzParseMask checks ParseMask's promises on any input: it never panics,
// rejections are ErrUnparsable, and an accepted mask survives both of its
// text forms.
func FuzzParseMask(f *testing.F) {
	for _, s := range []string{"0x3f010000", "0", "010", "+5", "-0", " 12", "", "0x", "08", "4294967296", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := perms.ParseMask(s)
		if err != nil {
			checkUnparsable(t, err, s)
			return
		}
		again, err := perms.ParseMask(m.String())
		if err != nil || again != m {
			t.Fatalf("ParseMask(%q) = %v, but ParseMask(%q) = %v, %v", s, m, m.String(), again, err)
		}
		if got, want := maskFromDescribe(t, m.Describe()), m&perms.AllMask; got != want {
			t.Fatalf("ParseMask(%q) = %v, whose Describe %q reads back as %v, want %v", s, m, m.Describe(), got, want)
		}
		if m.Validate() == nil != (m&^perms.AllMask == 0) {
			t.Fatalf("Validate(%v) = %v", m, m.Validate())
		}
	})
}

// maskFromDescribe reads Mask.Describe's 24 letters back into a mask, so
// the fuzz target can check that no two valid masks describe alike.
func maskFromDescribe(t *testing.T, s string) perms.Mask {
	t.Helper()
	const letters = "alswrv"
	if len(s) != 4*len(letters) {
		t.Fatalf("Describe gave %q, want %d letters", s, 4*len(letters))
	}
	var m perms.Mask
	for i := range len(s) {
		m <<= 1
		switch s[i] {
		case letters[i%len(letters)]:
			m |= 1
		case '-':
		default:
			t.Fatalf("Describe gave %q: %q at %d, want %q or '-'", s, s[i], i, letters[i%len(letters)])
		}
		if i%len(letters) == len(letters)-1 {
			m <<= 2 // the two unused bits above the next class byte
		}
	}
	return m >> 2
}

func checkUnparsable(t *testing.T, err error, in string) {
	t.Helper()
	if !errors.Is(err, perms.ErrUnparsable) {
		t.Errorf("ParseMask(%q) error %v does not unwrap to ErrUnparsable", in, err)
	}
	if !strings.HasPrefix(err.Error(), "perms: ") {
		t.Errorf("ParseMask(%q) error %q does not start with the package name", in, err)
	}
}

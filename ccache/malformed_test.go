package ccache_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyctl-go/keyctl-go/ccache"
)

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// TestTruncatedEverywhere cuts every golden file at every length. A prefix
// parses only when it ends exactly after the default principal or after a
// whole record; everything else is a *FormatError, never a panic.
func TestTruncatedEverywhere(t *testing.T) {
	for _, path := range mitFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, f := readMIT(t, path)
			boundaries := map[int]bool{}
			for n := 0; n <= len(f.Credentials); n++ {
				g := *f
				g.Credentials = f.Credentials[:n]
				enc, err := g.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				boundaries[len(enc)] = true
			}
			for n := range len(b) {
				_, err := ccache.Parse(b[:n])
				if boundaries[n] {
					if err != nil {
						t.Errorf("prefix %d ends at a record boundary but fails: %v", n, err)
					}
					continue
				}
				var fe *ccache.FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("prefix %d: error %v, want a *FormatError", n, err)
				}
				if fe.Offset < 0 || fe.Offset > n {
					t.Errorf("prefix %d: offset %d outside the input", n, fe.Offset)
				}
			}
		})
	}
}

// v4 assembles a version 4 file from big-endian pieces.
func v4(parts ...any) []byte {
	b := []byte{5, 4}
	for _, p := range parts {
		switch p := p.(type) {
		case uint16:
			b = binary.BigEndian.AppendUint16(b, p)
		case uint32:
			b = binary.BigEndian.AppendUint32(b, p)
		case int:
			b = binary.BigEndian.AppendUint32(b, uint32(p))
		case string:
			b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
			b = append(b, p...)
		case []byte:
			b = append(b, p...)
		}
	}
	return b
}

// alice is the principal alice@R in version 4: name type, count, realm,
// component.
var alice = []any{1, 1, "R", "alice"}

func cat(parts ...[]any) []any {
	var out []any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestMalformed(t *testing.T) {
	noHeader := []any{uint16(0)}
	// A whole credential after alice as client: server, keyblock, times,
	// is_skey, flags, addresses, authdata, ticket, second ticket.
	rest := []any{uint16(18), "k", 1, 2, 3, 4, []byte{0}, 0, 0, 0, "t", ""}
	for _, tc := range []struct {
		name  string
		in    []byte
		want  error
		field string
	}{
		{"empty", nil, ccache.ErrTruncated, "file format version"},
		{"one byte", []byte{5}, ccache.ErrTruncated, "file format version"},
		{"version 0x0500", []byte{5, 0, 0, 0}, ccache.ErrBadVersion, "file format version 0x500"},
		{"version 0x0505", []byte{5, 5}, ccache.ErrBadVersion, "file format version 0x505"},
		{"version 0x0404", []byte{4, 4}, ccache.ErrBadVersion, "file format version 0x404"},
		{"header longer than file", v4(uint16(40)), ccache.ErrTooLarge, "header: length 40"},
		{"header field beyond header", v4(uint16(4), uint16(7), uint16(1)), ccache.ErrTooLarge, "header: field length 1"},
		{"header partial field", v4(uint16(2), uint16(7)), ccache.ErrMalformed, "header: field tag and length"},
		{"time offset of 4 bytes", v4(uint16(8), uint16(1), uint16(4), uint32(0)), ccache.ErrMalformed, "header: time offset length 4"},
		{"no default principal", v4(noHeader...), ccache.ErrTruncated, "default principal: name type"},
		{"huge component count", v4(uint16(0), 1, 0xffffffff), ccache.ErrTooLarge, "default principal: component count 4294967295"},
		{"component count over cap", v4(cat(noHeader, []any{1, 5000}, make([]any, 5000))...), ccache.ErrTooLarge, "default principal: component count 5000"},
		{"huge realm length", v4(uint16(0), 1, 1, uint32(0x7fffffff)), ccache.ErrTooLarge, "default principal: realm length 2147483647"},
		{"truncated component", v4(uint16(0), 1, 1, "R", uint32(6), []byte("alic")), ccache.ErrTooLarge, "default principal: component 1 length 6"},
		{"huge address count", v4(cat(noHeader, alice, alice, alice, []any{uint16(18), "k", 1, 2, 3, 4, []byte{0}, 0, 0xfffffff0})...), ccache.ErrTooLarge, "credential 1: addresses: count 4294967280"},
		{"huge authdata count", v4(cat(noHeader, alice, alice, alice, []any{uint16(18), "k", 1, 2, 3, 4, []byte{0}, 0, 0, 70000})...), ccache.ErrTooLarge, "credential 1: authdata: count 70000"},
		{"huge ticket", v4(cat(noHeader, alice, alice, alice, []any{uint16(18), "k", 1, 2, 3, 4, []byte{0}, 0, 0, 0, uint32(0xffffffff)})...), ccache.ErrTooLarge, "credential 1: ticket length 4294967295"},
		{"missing second ticket", v4(cat(noHeader, alice, alice, alice, rest[:len(rest)-1])...), ccache.ErrTruncated, "credential 1: second ticket length"},
		{"v1 zero count", []byte{5, 1, 0, 0, 0, 0}, ccache.ErrMalformed, "default principal: component count 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ccache.Parse(tc.in)
			if err == nil {
				t.Fatalf("parsed: %+v", f)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			var fe *ccache.FormatError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("error %v names field %q, want %q", err, fieldOf(fe), tc.field)
			}
		})
	}
}

func fieldOf(fe *ccache.FormatError) string {
	if fe == nil {
		return ""
	}
	return fe.Field
}

// TestKeptAsRead covers what MIT's tools did not produce: unknown header
// tags, a v3 second enctype that differs, Heimdal's removal marker, and an
// is_skey byte other than 0 and 1. Each must survive a round trip.
func TestKeptAsRead(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("testdata", "mit", "v3-kvno.cc"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ccache.Parse(orig)
	if err != nil {
		t.Fatal(err)
	}
	// The TGT's keyblock sits right after its two principals; change its
	// second enctype in place.
	v3 := append([]byte(nil), orig...)
	tgt, err := (&ccache.File{Version: 3, DefaultPrincipal: f.DefaultPrincipal, Credentials: f.Credentials[:1]}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	client := 4 + 4 + 4 + len("TEST.LOCAL") + 4 + len("alice")
	server := 4 + 4 + 4 + len("TEST.LOCAL") + 4 + len("krbtgt") + 4 + len("TEST.LOCAL")
	at := len(tgt) + client + server
	if binary.BigEndian.Uint16(v3[at:]) != 18 || binary.BigEndian.Uint16(v3[at+2:]) != 18 {
		t.Fatalf("no doubled enctype 18 at %d", at)
	}
	binary.BigEndian.PutUint16(v3[at+2:], 0x7777)

	heimdal := v4(cat([]any{uint16(0)}, alice, alice, alice,
		[]any{uint16(18), "k", 1700000000, 0, 0, 0, []byte{7}, 0, 0, 0, "t", ""})...)
	unknownTags := v4(uint16(20), uint16(9), uint16(0), uint16(1), uint16(8), uint32(1), uint32(2), uint16(0xffff), uint16(0), 1, 1, "R", "alice")

	for _, tc := range []struct {
		name string
		in   []byte
		test func(*ccache.File) error
	}{
		{"v3 second enctype", v3, func(f *ccache.File) error {
			if f.Credentials[1].Key.EncType != 18 {
				return fmt.Errorf("enctype %d, want the first copy 18", f.Credentials[1].Key.EncType)
			}
			return nil
		}},
		{"heimdal removed, is_skey 7", heimdal, func(f *ccache.File) error {
			if c := f.Credentials[0]; !c.IsRemoved() || c.IsSKey != 7 {
				return fmt.Errorf("removed %v is_skey %d", c.IsRemoved(), c.IsSKey)
			}
			return nil
		}},
		{"unknown header tags", unknownTags, func(f *ccache.File) error {
			if len(f.Header) != 3 || f.Header[0].Tag != 9 || f.Header[2].Tag != 0xffff {
				return fmt.Errorf("header %+v", f.Header)
			}
			if s, us, ok := f.TimeOffset(); !ok || s != 1 || us != 2 {
				return fmt.Errorf("time offset %d %d %v", s, us, ok)
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ccache.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.test(f); err != nil {
				t.Error(err)
			}
			out, err := f.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(tc.in) {
				t.Errorf("round trip differs at byte %d", firstDiff(out, tc.in))
			}
		})
	}
}

// TestMITRemoved checks MIT's in-place removal markers made by
// krb5_cc_remove_cred (testdata/mit/rmcred.c).
func TestMITRemoved(t *testing.T) {
	for _, name := range []string{"v3-removed.cc", "v4-removed.cc"} {
		t.Run(name, func(t *testing.T) {
			_, f := readMIT(t, filepath.Join("testdata", "mit", name))
			if len(f.Credentials) != 3 {
				t.Fatalf("%d credentials, want 3", len(f.Credentials))
			}
			conf, tgt, svc := f.Credentials[0], f.Credentials[1], f.Credentials[2]
			if conf.Server.Realm != ccache.RemovedConfigRealm || !conf.IsRemoved() || conf.IsConfig() {
				t.Errorf("config entry: realm %q removed %v", conf.Server.Realm, conf.IsRemoved())
			}
			if tgt.AuthTime != 0xffffffff || tgt.EndTime != 0 || !tgt.IsRemoved() {
				t.Errorf("TGT: authtime %#x endtime %d removed %v", uint32(tgt.AuthTime), tgt.EndTime, tgt.IsRemoved())
			}
			if svc.IsRemoved() {
				t.Error("service ticket marked removed")
			}
		})
	}
}

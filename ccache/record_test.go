package ccache_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/ccache"
)

// TestRecordsAreTheFileBytes: a version 4 MIT cache is its header, then
// AppendPrincipal's bytes for the default principal, then
// AppendCredential's for each record; decoding them one by one from the
// file's bytes gives back every record and ends exactly at the end.
func TestRecordsAreTheFileBytes(t *testing.T) {
	for _, path := range mitFiles(t) {
		if !strings.Contains(filepath.Base(path), "v4-") {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, f := readMIT(t, path)
			hlen := 4 + (int(b[2])<<8 | int(b[3]))
			rest := b[hlen:]
			p, rest, err := ccache.DecodePrincipal(rest)
			if err != nil || !p.Equal(f.DefaultPrincipal) {
				t.Fatalf("DecodePrincipal: %v, %v; want %v", p, err, f.DefaultPrincipal)
			}
			enc, err := ccache.AppendPrincipal(nil, p)
			if err != nil || !bytes.HasPrefix(b[hlen:], enc) {
				t.Fatalf("AppendPrincipal gave % x, not the file's bytes (%v)", enc, err)
			}
			off := len(b) - len(rest)
			for i := range f.Credentials {
				c, after, err := ccache.DecodeCredential(rest)
				if err != nil {
					t.Fatalf("record %d: %v", i+1, err)
				}
				enc, err := ccache.AppendCredential(nil, &c)
				if err != nil || !bytes.Equal(enc, b[off:off+len(rest)-len(after)]) {
					t.Fatalf("record %d: AppendCredential is not the file's bytes (%v)", i+1, err)
				}
				off += len(rest) - len(after)
				rest = after
			}
			if len(rest) != 0 {
				t.Fatalf("%d bytes left after the last record", len(rest))
			}
		})
	}
}

// TestDecodeRecordTruncated: every strict prefix of a record is refused
// with a FormatError, never a panic or a record.
func TestDecodeRecordTruncated(t *testing.T) {
	_, f := readMIT(t, filepath.Join("testdata", "mit", "v4-kvno.cc"))
	b, err := ccache.AppendCredential(nil, &f.Credentials[len(f.Credentials)-1])
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		_, _, err := ccache.DecodeCredential(b[:n])
		var fe *ccache.FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("%d of %d bytes: %v, want a FormatError", n, len(b), err)
		}
	}
}

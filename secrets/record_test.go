//go:build linux

package secrets

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// recordSeeds are the records the fuzz corpus starts from.
var recordSeeds = map[string]Item{
	"empty":      {},
	"secret":     {Secret: []byte("hunter2")},
	"everything": {Label: "Password for 'alice' on 'github.com'", ContentType: "text/plain", Attributes: map[string]string{"service": "github.com", "username": "alice", "xdg:schema": "org.freedesktop.Secret.Generic"}, Secret: []byte{0, 1, 2, 0xff}, Created: time.Unix(1764000000, 5), Modified: time.Unix(1764000001, 0), Expires: time.Unix(1765000000, 0)},
	"unicode":    {Label: "Schlüssel ✓", Attributes: map[string]string{"": "", "ä": "ö"}},
}

func TestRecordRoundTrip(t *testing.T) {
	for name, it := range recordSeeds {
		b := appendRecord(nil, &it)
		if len(b) != recordLen(&it) {
			t.Errorf("%s: recordLen %d, encoded %d", name, recordLen(&it), len(b))
		}
		var got Item
		if err := decodeRecord(b, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Label != it.Label || got.ContentType != it.ContentType || !maps.Equal(got.Attributes, it.Attributes) ||
			!bytes.Equal(got.Secret, it.Secret) || !got.Created.Equal(it.Created) || !got.Modified.Equal(it.Modified) || !got.Expires.Equal(it.Expires) {
			t.Errorf("%s: decoded %+v, want %+v", name, got, it)
		}
	}
}

func TestRecordRefusesDamage(t *testing.T) {
	good := recordSeeds["everything"]
	b := appendRecord(nil, &good)
	for name, bad := range map[string][]byte{
		"short header":    b[:recordFixed-1],
		"version 2":       append(append([]byte(recordMagic), 2), b[len(recordMagic)+1:]...),
		"label past end":  b[:recordFixed+5],
		"attribute count": append(append([]byte{}, b[:recordFixed]...), 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f),
		"attrs out of order": func() []byte {
			r := appendRecord(nil, &Item{})
			r = r[:len(r)-1] // drop the count of 0
			r = append(r, 2, 1, 'b', 0, 1, 'a', 0)
			return r
		}(),
		"not UTF-8": appendRecord(nil, &Item{Label: "\xff"}),
	} {
		var it Item
		if err := decodeRecord(bad, &it); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzDecodeRecord: whatever decodes encodes back to the same bytes, and
// nothing panics.
func FuzzDecodeRecord(f *testing.F) {
	for _, it := range recordSeeds {
		f.Add(appendRecord(nil, &it))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var it Item
		if err := decodeRecord(b, &it); err != nil {
			return
		}
		if !bytes.HasPrefix(b, []byte(recordMagic)) {
			if !bytes.Equal(it.Secret, b) {
				t.Fatal("a bare secret is not the payload")
			}
			return
		}
		if again := appendRecord(nil, &it); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded differs:\n%x\n%x", again, b)
		}
	})
}

// TestWriteFuzzSeeds keeps testdata/fuzz/FuzzDecodeRecord in step with
// recordSeeds when run with -update-seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SECRETS_UPDATE_SEEDS") == "" {
		t.Skip("set SECRETS_UPDATE_SEEDS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeRecord")
	os.MkdirAll(dir, 0o755)
	for name, it := range recordSeeds {
		b := appendRecord(nil, &it)
		body := "go test fuzz v1\n[]byte(" + quote(b) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func quote(b []byte) string {
	const hex = "0123456789abcdef"
	out := []byte{'"'}
	for _, c := range b {
		out = append(out, '\\', 'x', hex[c>>4], hex[c&15])
	}
	return string(append(out, '"'))
}

//go:build linux

package krb5ring

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keyctl-go/keyctl-go/ccache"
)

// TestRecordEndTime: the shortcut agrees with the full decoder on every
// record MIT wrote, and refuses a record cut short.
func TestRecordEndTime(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "ccache", "testdata", "mit", "v4-*.cc"))
	if len(files) == 0 {
		t.Fatal("no golden caches")
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ccache.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.Credentials {
			rec, err := ccache.AppendCredential(nil, &f.Credentials[i])
			if err != nil {
				t.Fatal(err)
			}
			end, err := recordEndTime(rec)
			if err != nil || end != f.Credentials[i].EndTime {
				t.Errorf("%s record %d: %v, %v; want %v", path, i+1, end, err, f.Credentials[i].EndTime)
			}
			if _, err := recordEndTime(rec[:20]); err == nil {
				t.Errorf("%s record %d cut to 20 bytes: no error", path, i+1)
			}
		}
	}
}

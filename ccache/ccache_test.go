package ccache_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/ccache"
)

// mitFiles returns the caches made by MIT tools (see testdata/mit/README.md).
func mitFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "mit", "*.cc"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden caches in testdata/mit: %v", err)
	}
	return files
}

func readMIT(t *testing.T, path string) ([]byte, *ccache.File) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ccache.Parse(b)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return b, f
}

func TestRoundTripMIT(t *testing.T) {
	for _, path := range mitFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, f := readMIT(t, path)
			want := ccache.Version(b[1])
			if f.Version != want {
				t.Errorf("version %d, file says %d", f.Version, want)
			}
			out, err := f.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				t.Fatalf("re-encoding differs from the MIT file (%d vs %d bytes), first difference at %d",
					len(out), len(b), firstDiff(out, b))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestMITKlistGolden compares decoded fields with the klist output that
// make.sh saved next to each cache, so it needs no tools.
func TestMITKlistGolden(t *testing.T) {
	for _, path := range mitFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, f := readMIT(t, path)
			out, err := os.ReadFile(strings.TrimSuffix(path, ".cc") + ".klist")
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseKlist(string(out))
			if err != nil {
				t.Fatal(err)
			}
			compareListing(t, got, expectedListing(f))
		})
	}
}

// TestMITKlistLive asks the installed klist about each golden cache.
func TestMITKlistLive(t *testing.T) {
	for _, path := range mitFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, f := readMIT(t, path)
			got, err := parseKlist(runKlist(t, path))
			if err != nil {
				t.Fatal(err)
			}
			compareListing(t, got, expectedListing(f))
		})
	}
}

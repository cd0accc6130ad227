package ccache_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keyctl-go/keyctl-go/ccache"
)

// BenchmarkParse and BenchmarkMarshal use the largest MIT cache; a plain
// copy of the same bytes is the baseline in the same run.
func benchInput(b *testing.B) []byte {
	in, err := os.ReadFile(filepath.Join("testdata", "mit", "v4-preauth.cc"))
	if err != nil {
		b.Fatal(err)
	}
	return in
}

func BenchmarkCopyBaseline(b *testing.B) {
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		_ = append([]byte(nil), in...)
	}
}

func BenchmarkParse(b *testing.B) {
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ccache.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	f, err := ccache.Parse(benchInput(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

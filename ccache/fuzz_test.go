package ccache_test

import (
	"bytes"
	"testing"

	"github.com/keyctl-go/keyctl-go/ccache"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// re-encodes to exactly the same bytes. The seed corpus in
// testdata/fuzz/FuzzParse holds the MIT-made caches of testdata/mit.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ccache.Parse(b)
		if err != nil {
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("accepted input does not re-encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs at byte %d of %d", firstDiff(out, b), len(b))
		}
	})
}

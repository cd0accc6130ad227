//go:build linux

package keyring_test

import (
	"strconv"
	"testing"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// BenchmarkRequestKeyFound is request_key with callout information that
// finds its key in the session: no construction, no commit. Beside it, in
// the same run, the baseline: KEYCTL_SEARCH of the session for the same
// key.
func BenchmarkRequestKeyFound(b *testing.B) {
	_, p, _ := benchStore(b)
	want, err := p.Add(ctx, "user", "found", benchPayload, keyring.SessionKeyring)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("op=request_key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if id, c, err := p.RequestKeyWithCallout(ctx, "user", "found", []byte("info"), 0); err != nil || c != nil || id != want {
				b.Fatal(id, c, err)
			}
		}
	})
	b.Run("op=search-baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if id, err := p.Search(ctx, keyring.SessionKeyring, "user", "found", 0); err != nil || id != want {
				b.Fatal(id, err)
			}
		}
	})
}

// BenchmarkConstruction is a whole construction but the helper process: a
// request that makes the key, a helper that assumes the authority and
// instantiates it, and the request's completion; two durable changes.
// The baseline, in the same run, is add_key: one.
func BenchmarkConstruction(b *testing.B) {
	store, p, ring := benchStore(b)
	helper := store.Process(root)
	b.Cleanup(func() { helper.Release(ctx) })
	// The store outlives each run of the sub-benchmarks (-count repeats
	// them inside this one call), so the counters do too: every run
	// constructs and adds keys that are not there yet.
	built, added := 0, 0
	b.Run("op=construct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, c, err := p.RequestKeyWithCallout(ctx, "user", "built-"+strconv.Itoa(built), []byte("info"), ring)
			if err != nil || c == nil {
				b.Fatal(c, err)
			}
			if _, err := helper.AssumeAuthority(ctx, c.Key, c.Token); err != nil {
				b.Fatal(err)
			}
			if err := helper.Instantiate(ctx, c.Key, benchPayload, 0); err != nil {
				b.Fatal(err)
			}
			if _, err := p.CompleteRequest(ctx, c.Key); err != nil {
				b.Fatal(err)
			}
			built++
		}
	})
	b.Run("op=add-baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Add(ctx, "user", "added-"+strconv.Itoa(added), benchPayload, ring); err != nil {
				b.Fatal(err)
			}
			added++
		}
	})
}

//go:build linux

package keyring_test

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/internal/bigstore"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// openBenchKeys is the size of store BenchmarkOpen opens: root's whole
// kernel quota of keys.
const openBenchKeys = 1_000_000

// bigStore is a store built by buildBigStore.
type bigStore struct {
	path    string
	sample  keyring.Serial // a key in the middle of the user keyring, for the first read
	payload []byte         // its payload
	built   time.Duration
}

// bigStoreCache is the store BenchmarkOpen opens, built on first use (a
// million keys take a while) and removed when BenchmarkOpen ends. The
// testing package repeats a leaf benchmark for -count and -cpu inside its
// parent's one call, so that is once per benchmark process.
var bigStoreCache struct {
	mu  sync.Mutex
	dir string
	big *bigStore
}

func cachedBigStore(b *testing.B, n int) *bigStore {
	b.Helper()
	c := &bigStoreCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.big != nil {
		return c.big
	}
	dir, err := os.MkdirTemp("", "keyring-bench-open-")
	if err != nil {
		b.Fatal(err)
	}
	big, err := buildBigStore(dir, n)
	if err != nil {
		os.RemoveAll(dir)
		b.Fatal(err)
	}
	c.dir = dir
	b.Logf("built a store of %d keys in %v", n, big.built.Round(time.Millisecond))
	c.big = &big
	return c.big
}

// dropBigStore removes the cached store, 600 MB for a million keys.
func dropBigStore() {
	c := &bigStoreCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
	c.dir, c.big = "", nil
}

// BenchmarkOpen opens a store of a million keys, and reports, beside the
// time Open takes, the time of the first Read after it (firstread-ns): what
// a command-line call pays before its first answer. The file is in the page
// cache, having just been written or opened: this is a warm open.
func BenchmarkOpen(b *testing.B) {
	b.Cleanup(dropBigStore)
	b.Run("keys="+strconv.Itoa(openBenchKeys), func(b *testing.B) {
		big := cachedBigStore(b, openBenchKeys)
		b.ReportAllocs()
		var firstRead time.Duration
		reads := 0
		for b.Loop() {
			store, err := keyring.Open(big.path, keyring.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			start := time.Now()
			got, err := store.Process(root).Read(ctx, big.sample)
			firstRead += time.Since(start)
			reads++
			store.Close()
			if err != nil || !bytes.Equal(got, big.payload) {
				b.Fatalf("first read of %d: %q, %v; want %q", big.sample, got, err, big.payload)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(firstRead.Nanoseconds())/float64(reads), "firstread-ns")
	})
}

func buildBigStore(dir string, n int) (bigStore, error) {
	b, err := bigstore.Build(dir, n, root)
	return bigStore{path: b.Path, sample: b.Sample, payload: b.Payload, built: b.Built}, err
}

func bigStoreKey(i int) (string, []byte) { return bigstore.Key(i) }

// TestBigStoreBuilder checks, on a small store, that buildBigStore writes
// what Add would: the store passes Check, its keys are found, read and
// described like a key Add made, and the store takes further changes. The
// million-key store itself is only ever built by BenchmarkOpen.
func TestBigStoreBuilder(t *testing.T) {
	const n = 2000
	big, err := buildBigStore(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	store, err := keyring.Open(big.path, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Check(); err != nil {
		t.Fatalf("the built store is inconsistent: %v", err)
	}
	p := store.Process(root)
	if got, err := p.Read(ctx, big.sample); err != nil || !bytes.Equal(got, big.payload) {
		t.Fatalf("read %d: %q, %v; want %q", big.sample, got, err, big.payload)
	}
	desc, _ := bigStoreKey(n / 2)
	if got, err := p.Search(ctx, keyring.UserKeyring, "user", desc, 0); err != nil || got != big.sample {
		t.Fatalf("search for %q: %d, %v; want %d", desc, got, err, big.sample)
	}
	ids, err := p.Keys(ctx, keyring.UserKeyring)
	if err != nil || len(ids) != n || ids[n/2] != big.sample {
		t.Fatalf("the user keyring lists %d keys (err %v), want %d in the order added, %d in the middle", len(ids), err, n, big.sample)
	}

	added, err := p.Add(ctx, "user", "added", []byte("v"), keyring.UserKeyring)
	if err != nil {
		t.Fatal(err)
	}
	want, err := p.Describe(ctx, added)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Describe(ctx, big.sample)
	if err != nil {
		t.Fatal(err)
	}
	if want.Description, got.Description = "", ""; got != want {
		t.Errorf("a built key describes as %v, one Add made as %v", got, want)
	}
	if err := p.Unlink(ctx, big.sample, keyring.UserKeyring); err != nil {
		t.Fatal(err)
	}
	if err := store.Check(); err != nil {
		t.Fatalf("inconsistent after changes to the built store: %v", err)
	}
}

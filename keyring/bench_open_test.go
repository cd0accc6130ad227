package keyring_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
)

// openBenchKeys is the size of store BenchmarkOpen opens: root's whole
// kernel quota of keys.
const openBenchKeys = 1_000_000

// openBatch is how many keys one transaction of the builder writes: big
// enough that the fsyncs do not matter, small enough that a transaction's
// dirty pages stay a few tens of megabytes.
const openBatch = 50_000

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

// buildBigStore makes a store in dir holding n user keys of root's, linked
// in root's user keyring. Adding them one by one through Process.Add costs
// an fsync each, and even 64 writers sharing commits need about 90 µs an
// add (BenchmarkAddDurableParallel), a minute and a half; instead it
// writes the records through keystore.Tx in big transactions (about 11 s
// for a million on the machine that measured that), keeping
// what Add keeps: each key's record, sealed payload and link (which keeps
// the index and parents buckets), the keyring's NextSeq and DataLen, and
// root's charge. The user keyrings themselves come from the keyring
// package, as any program would make them.
//
// The serials are random, as Add's are, but written in ascending order,
// with descriptions and link positions ascending with them, so that every
// bucket is filled by appending.
func buildBigStore(dir string, n int) (bigStore, error) {
	start := time.Now()
	big := bigStore{path: filepath.Join(dir, "keys.db")}
	store, err := keyring.Open(big.path, keyring.Options{})
	if err != nil {
		return big, err
	}
	p := store.Process(root)
	user, err := p.KeyringID(ctx, keyring.UserKeyring)
	if err != nil {
		store.Close()
		return big, err
	}
	session, err := p.KeyringID(ctx, keyring.UserSessionKeyring)
	store.Close()
	if err != nil {
		return big, err
	}

	rng := rand.New(rand.NewPCG(uint64(n), 1))
	taken := map[uint32]bool{uint32(user): true, uint32(session): true}
	serials := make([]uint32, 0, n)
	for len(serials) < n {
		s := keystore.MinSerial + rng.Uint32N(keystore.MaxSerial-keystore.MinSerial+1)
		if !taken[s] {
			taken[s] = true
			serials = append(serials, s)
		}
	}
	taken = nil
	slices.Sort(serials)

	db, err := keystore.Open(big.path, keystore.Options{})
	if err != nil {
		return big, err
	}
	defer db.Close()
	now := time.Now().UnixNano()
	for first := 0; first < n; first += openBatch {
		batch := serials[first:min(first+openBatch, n)]
		// Update may run fn again if it fails, so it reads everything it
		// changes from the transaction rather than carrying it over.
		err := db.Update(ctx, func(tx *keystore.Tx) error {
			ring, err := tx.Key(uint32(user))
			if err != nil || ring == nil {
				return fmt.Errorf("user keyring %d: %v", user, err)
			}
			usage := tx.Quota(root.UID)
			for i, serial := range batch {
				desc, payload := bigStoreKey(first + i)
				r := &keystore.KeyRecord{
					Serial:      serial,
					Type:        "user",
					Description: desc,
					UID:         root.UID,
					GID:         root.GID,
					Perm:        uint32(perms.DefaultUserKey),
					Flags:       keystore.FlagInQuota,
					CTime:       now,
					DataLen:     uint32(len(payload)),
					QuotaBytes:  uint32(len(desc) + 1 + len(payload)), // what Add charges a user key
					Links:       1,
				}
				if err := tx.PutKey(r); err != nil {
					return err
				}
				if err := tx.PutPayload(r, payload); err != nil {
					return err
				}
				if err := tx.PutLink(ring.Serial, keystore.Link{Seq: ring.NextSeq, Key: serial}, r.Type, desc); err != nil {
					return err
				}
				ring.NextSeq++
				ring.DataLen++ // the user keyring is not charged for its links
				usage.Keys++
				usage.Bytes += r.QuotaBytes
			}
			if err := tx.PutKey(ring); err != nil {
				return err
			}
			if err := tx.PutQuota(root.UID, usage); err != nil {
				return err
			}
			_, err = tx.NextRevision()
			return err
		})
		if err != nil {
			return big, fmt.Errorf("building a store of %d keys, at key %d: %w", n, first, err)
		}
	}
	mid := n / 2
	big.sample = keyring.Serial(serials[mid])
	_, big.payload = bigStoreKey(mid)
	big.built = time.Since(start)
	return big, nil
}

// bigStoreKey is the description and payload of the i'th key of a big
// store: short, so that a million fit root's byte quota as they would in
// the kernel (17 bytes charged each).
func bigStoreKey(i int) (string, []byte) {
	return fmt.Sprintf("k%07d", i), fmt.Appendf(nil, "v%07d", i)
}

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
	if err != nil || len(ids) != n || !slices.IsSorted(ids) {
		t.Fatalf("the user keyring lists %d keys (err %v), want %d in ascending serial order", len(ids), err, n)
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

//go:build linux

package keyring_test

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// Baselines for bench_test.go, in the same run so that they see the same
// machine: the kernel's own keyrings, for what the store reimplements, and
// a bare bbolt file, for what durability costs at the least.

// kernelSession is a fresh anonymous session keyring of the kernel's, on
// the calling goroutine's OS thread, with a keyring "bench" below it, and
// the keys a benchmark made in it.
type kernelSession struct {
	b    *testing.B
	ring int
	made []int
}

// newKernelSession locks the goroutine to its thread and gives the thread
// a new anonymous session keyring: the kernel keeps the session in the
// thread's credentials, so the keys the benchmark makes are possessed only
// on this thread. The thread is never unlocked, so that it exits with the
// benchmark's goroutine, session and all. It skips where the kernel has no
// keyrings (not built in, or keyctl refused by a seccomp filter).
//
// Call release (deferred, on the same goroutine) to invalidate the keys:
// root's kernel quota is shared by the whole machine.
func newKernelSession(b *testing.B) *kernelSession {
	b.Helper()
	runtime.LockOSThread()
	// A NULL name asks for an anonymous session; KeyctlJoinSessionKeyring("")
	// would pass an empty string, which names a session "".
	if _, err := unix.KeyctlInt(unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0); err != nil {
		b.Skipf("the kernel's keyrings are unavailable here, so there is no baseline: keyctl(KEYCTL_JOIN_SESSION_KEYRING): %v", err)
	}
	k := &kernelSession{b: b}
	k.ring = k.add("keyring", "bench", nil, unix.KEY_SPEC_SESSION_KEYRING)
	return k
}

func (k *kernelSession) add(typ, desc string, payload []byte, ring int) int {
	k.b.Helper()
	id, err := unix.AddKey(typ, desc, payload, ring)
	if err != nil {
		if errors.Is(err, unix.EDQUOT) {
			k.b.Fatalf("add_key %s %q: %v: root's kernel key quota is full; keys from an earlier run may still be awaiting the kernel's gc", typ, desc, err)
		}
		k.b.Fatalf("add_key %s %q: %v", typ, desc, err)
	}
	k.made = append(k.made, id)
	return id
}

// release invalidates every key the session made, so that the kernel
// frees them and their quota now rather than after the session is gone.
// Keyrings go after their keys: a key that only a dead keyring held has no
// references left, and the kernel no longer finds it to invalidate it.
func (k *kernelSession) release() {
	for _, id := range slices.Backward(k.made) {
		if _, err := unix.KeyctlInt(unix.KEYCTL_INVALIDATE, id, 0, 0, 0); err != nil {
			k.b.Errorf("invalidating kernel key %d: %v", id, err)
		}
	}
}

// BenchmarkKernelRead is BenchmarkRead against the kernel. The buffer is
// made once and big enough, so each op is one keyctl call: the kernel at
// its cheapest.
func BenchmarkKernelRead(b *testing.B) {
	k := newKernelSession(b)
	defer k.release()
	id := k.add("user", benchDesc(0), benchPayload, k.ring)
	buf := make([]byte, 4*len(benchPayload))
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		if err != nil || n != len(benchPayload) {
			b.Fatalf("keyctl read: %d bytes, %v", n, err)
		}
	}
}

// BenchmarkKernelDescribe is BenchmarkDescribe against the kernel, with
// one keyctl call per op (unix.KeyctlString makes two, to size its buffer).
func BenchmarkKernelDescribe(b *testing.B) {
	k := newKernelSession(b)
	defer k.release()
	id := k.add("user", benchDesc(0), benchPayload, k.ring)
	buf := make([]byte, 256)
	b.ReportAllocs()
	for b.Loop() {
		if n, err := unix.KeyctlBuffer(unix.KEYCTL_DESCRIBE, id, buf, 0); err != nil || n > len(buf) {
			b.Fatalf("keyctl describe: %d bytes, %v", n, err)
		}
	}
}

// BenchmarkKernelSearch is BenchmarkSearch against the kernel: a keyring
// of N user keys, searched for each in turn.
func BenchmarkKernelSearch(b *testing.B) {
	for _, n := range benchSearchSizes {
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			k := newKernelSession(b)
			defer k.release()
			descs := make([]string, n)
			for i := range descs {
				descs[i] = benchDesc(i)
				k.add("user", descs[i], benchPayload, k.ring)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := unix.KeyctlSearch(k.ring, "user", descs[i%n], 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkBoltPutBaseline is the floor for a durable change: one Put of a
// new key in its own bbolt transaction, fsynced, with bbolt's default
// options, in a file beside the other benchmarks' stores. The value is as
// long as benchPayload sealed.
func BenchmarkBoltPutBaseline(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "baseline.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bucket := []byte("baseline")
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(bucket)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, len(benchPayload)+keystore.SealOverhead)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		i++
		if err := db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucket).Put(binary.BigEndian.AppendUint64(nil, i), value)
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBoltAddFloor is bbolt's share of BenchmarkAddDurableParallel:
// for each new key, the five entries the store must write for it
// (its record, its sealed payload, and the keyring's link, the key's
// parent entry and the keyring's index entry, laid out as keystore's rows
// bucket lays them out), 32 keys to a transaction as group commit gathers
// them from 64 writers, committed without fsync as the journal commits.
// One goroutine, so ns/op is bbolt's CPU per key: the part of an add that
// no change above bbolt removes. It leaves out the store's counters,
// lookups and checks, the sealing and the log.
func BenchmarkBoltAddFloor(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "floor.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bucket := []byte("rows")
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(bucket)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	const perTx = 32
	const ringRow = 7
	record := make([]byte, 64)
	sealed := make([]byte, len(benchPayload)+keystore.SealOverhead)
	row := func(r uint32, tag byte) []byte { return append(binary.BigEndian.AppendUint32(nil, r), tag) }
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += perTx {
		if err := db.Update(func(tx *bolt.Tx) error {
			rows := tx.Bucket(bucket)
			for i := done; i < min(done+perTx, b.N); i++ {
				key := uint32(100 + i)
				puts := [][2][]byte{
					{row(key, 'k'), record},
					{row(key, 'p'), sealed},
					{binary.BigEndian.AppendUint64(row(ringRow, 'l'), uint64(i)), binary.BigEndian.AppendUint32(nil, key)},
					{binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(row(key, 'u'), ringRow), uint64(i)), nil},
					{append(row(ringRow, 'x'), "user\x00"+benchDesc(i)...), make([]byte, 12)},
				}
				for _, p := range puts {
					if err := rows.Put(p[0], p[1]); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

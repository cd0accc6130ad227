//go:build linux

package keyring_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// Benchmarks of the store, each beside its baseline in
// bench_kernel_test.go: BenchmarkKernelRead for BenchmarkRead, and so on,
// and BenchmarkBoltPutBaseline (one bbolt Put per fsynced transaction) for
// the durable writes. Compare runs with benchstat.
//
// Every benchmark acts as root, in a fresh anonymous session holding a
// keyring "bench", which is what the kernel benchmarks do too: root's quota
// is the kernel's 1,000,000 keys, room for BenchmarkSearch's 10,000.

// benchPayload is the user key payload the benchmarks read and write: the
// size of a typical token or symmetric key.
var benchPayload = bytes.Repeat([]byte{'k'}, 32)

// benchSearchSizes are the keyring sizes BenchmarkSearch and
// BenchmarkKernelSearch compare: a search should cost the same in both.
var benchSearchSizes = []int{1, 10000}

// benchStore opens a new store in a temporary directory and returns root's
// process, joined to a fresh anonymous session, and a keyring "bench" below
// that session. The store is checked and closed when the benchmark ends.
func benchStore(b *testing.B) (*keyring.Store, *keyring.Process, keyring.Serial) {
	b.Helper()
	store, err := keyring.Open(filepath.Join(b.TempDir(), "keys.db"), keyring.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := store.Check(); err != nil {
			b.Errorf("store inconsistent after the benchmark: %v", err)
		}
		store.Close()
	})
	p := store.Process(root)
	if _, err := p.JoinSession(ctx, ""); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Release(ctx) }) // runs before the close above
	ring, err := p.Add(ctx, "keyring", "bench", nil, keyring.SessionKeyring)
	if err != nil {
		b.Fatal(err)
	}
	return store, p, ring
}

// benchDesc is the description of the i'th benchmark key: the same in the
// store and in the kernel, so that both compare strings of one length.
func benchDesc(i int) string { return fmt.Sprintf("key-%07d", i) }

// fillBench adds n user keys to ring from 64 goroutines, so that group
// commit shares the fsyncs: 10,000 adds one by one would take longer than
// the benchmark.
func fillBench(b *testing.B, p *keyring.Process, ring keyring.Serial, n int) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if _, err := p.Add(ctx, "user", benchDesc(i), benchPayload, ring); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRead reads a possessed user key's payload by serial.
func BenchmarkRead(b *testing.B) {
	_, p, ring := benchStore(b)
	id, err := p.Add(ctx, "user", benchDesc(0), benchPayload, ring)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Read(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDescribe describes a possessed user key by serial.
func BenchmarkDescribe(b *testing.B) {
	_, p, ring := benchStore(b)
	id, err := p.Add(ctx, "user", benchDesc(0), benchPayload, ring)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Describe(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearch searches a keyring of N user keys for each of them in
// turn. The cost should not grow with N: the index finds a description
// without walking the keyring.
func BenchmarkSearch(b *testing.B) {
	for _, n := range benchSearchSizes {
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			_, p, ring := benchStore(b)
			fillBench(b, p, ring, n)
			descs := make([]string, n)
			for i := range descs {
				descs[i] = benchDesc(i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := p.Search(ctx, ring, "user", descs[i%n], 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkLinkUnlink links a key into a second keyring and unlinks it
// again: two durable changes per op. The key stays in its first keyring, so
// that the unlink does not destroy it.
func BenchmarkLinkUnlink(b *testing.B) {
	_, p, ring := benchStore(b)
	other, err := p.Add(ctx, "keyring", "other", nil, keyring.SessionKeyring)
	if err != nil {
		b.Fatal(err)
	}
	id, err := p.Add(ctx, "user", benchDesc(0), benchPayload, ring)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Link(ctx, id, other); err != nil {
			b.Fatal(err)
		}
		if err := p.Unlink(ctx, id, other); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddDurable adds one new user key per op, each acknowledged once
// it is on disk; BenchmarkBoltPutBaseline is the floor for it.
func BenchmarkAddDurable(b *testing.B) {
	_, p, ring := benchStore(b)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := p.Add(ctx, "user", benchDesc(i), benchPayload, ring); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAddDurableParallel adds new user keys from many writers at
// once; ns/op is the wall time per add, which group commit should keep far
// below an fsync. The writers are plain goroutines: b.Loop is for one
// goroutine, and RunParallel's count is a multiple of GOMAXPROCS.
func BenchmarkAddDurableParallel(b *testing.B) {
	const writers = 64
	b.Run("writers="+strconv.Itoa(writers), func(b *testing.B) {
		_, p, ring := benchStore(b)
		b.SetBytes(int64(len(benchPayload)))
		b.ReportAllocs()
		var next atomic.Int64
		var failed atomic.Pointer[error]
		var wg sync.WaitGroup
		b.ResetTimer()
		cpu0 := processCPU(b)
		for range writers {
			wg.Go(func() {
				for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
					if _, err := p.Add(ctx, "user", benchDesc(int(i)), benchPayload, ring); err != nil {
						failed.CompareAndSwap(nil, &err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		if err := failed.Load(); err != nil {
			b.Fatal(*err)
		}
	})
}

// processCPU is the CPU time, user and system, this process has used. Per
// op it says what the work costs apart from waits on the disk, which vary
// from run to run far more than the CPU's.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkClear empties a keyring of N user keys that nothing else holds,
// so each is destroyed: ns/key should not grow with N (it did,
// quadratically, while destroyed keys went through the orphans bucket).
func BenchmarkClear(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			_, p, ring := benchStore(b)
			for b.Loop() {
				b.StopTimer()
				fillConcurrently(b, p, ring, n)
				b.StartTimer()
				if err := p.Clear(ctx, ring); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/key")
		})
	}
}

// fillConcurrently adds n user keys to ring from 64 goroutines, so that
// group commit makes the setup quick.
func fillConcurrently(b *testing.B, p *keyring.Process, ring keyring.Serial, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if _, err := p.Add(ctx, "user", benchDesc(int(i)), benchPayload, ring); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

//go:build linux

package keyring_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/internal/etcdtest"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/keystore/etcdstore"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// Benchmarks of a store in etcd, each beside its baseline, on the shared
// 3-member cluster on loopback:
//
//	BenchmarkEtcdAdd        against BenchmarkEtcdPutBaseline (a bare Put of
//	                        the payload through the same kind of client)
//	BenchmarkEtcdRead       against BenchmarkKernelRead (bench_kernel_test.go)
//	BenchmarkEtcdDelivery   against BenchmarkEtcdWatchBaseline: from a commit
//	                        started on one host to the record in a watcher's
//	                        queue on another, and from a Put to a bare
//	                        watch's event; both report the median as
//	                        median-ns/op.

func openBenchHost(b *testing.B, c *etcdtest.Cluster, prefix, keyFile string) *keyring.Store {
	b.Helper()
	s, err := keyring.Open("", keyring.Options{Storage: keystore.Options{
		KeyFile: keyFile,
		Engine:  etcdstore.Options{Endpoints: c.Endpoints(), Prefix: prefix}.Open,
	}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkEtcdAdd(b *testing.B) {
	c := etcdtest.Shared(b)
	s := openBenchHost(b, c, etcdtest.Prefix(b), b.TempDir()+"/k")
	p := s.Process(alice)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Add(ctx, "user", benchDesc(0), benchPayload, keyring.UserKeyring); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEtcdPutBaseline(b *testing.B) {
	c := etcdtest.Shared(b)
	cli := c.Client(b)
	key := etcdtest.Prefix(b) + "/put"
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cli.Put(ctx, key, string(benchPayload)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEtcdRead(b *testing.B) {
	c := etcdtest.Shared(b)
	s := openBenchHost(b, c, etcdtest.Prefix(b), b.TempDir()+"/k")
	p := s.Process(alice)
	id, err := p.Add(ctx, "user", benchDesc(0), benchPayload, keyring.UserKeyring)
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

func BenchmarkEtcdDelivery(b *testing.B) {
	c := etcdtest.Shared(b)
	prefix, keyFile := etcdtest.Prefix(b), b.TempDir()+"/k"
	ha, hb := openBenchHost(b, c, prefix, keyFile), openBenchHost(b, c, prefix, keyFile)
	pa, pb := ha.Process(alice), hb.Process(alice)
	id, err := pa.Add(ctx, "user", benchDesc(0), benchPayload, keyring.UserKeyring)
	if err != nil {
		b.Fatal(err)
	}
	if err := hb.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	q := watchqueue.New(watchqueue.Options{})
	defer q.Close()
	q.SetSize(256)
	if err := pb.Watch(ctx, id, q, 1); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, watchqueue.ReadBufferSize)
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := pa.Add(ctx, "user", benchDesc(0), benchPayload, keyring.UserKeyring); err != nil {
			b.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := q.ReadContext(rctx, buf)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	reportMedian(b, lat)
}

func BenchmarkEtcdWatchBaseline(b *testing.B) {
	c := etcdtest.Shared(b)
	ca, cb := c.Client(b), c.Client(b)
	key := etcdtest.Prefix(b) + "/watched"
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := cb.Watch(wctx, key)
	time.Sleep(50 * time.Millisecond) // the watch is set up
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := ca.Put(ctx, key, string(benchPayload)); err != nil {
			b.Fatal(err)
		}
		select {
		case <-wch:
		case <-time.After(5 * time.Second):
			b.Fatal("no watch event")
		}
		lat = append(lat, time.Since(start))
	}
	reportMedian(b, lat)
}

func reportMedian(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "median-ns/op")
}

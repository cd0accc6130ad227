package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// benchServer serves a fresh store on a socket for a benchmark, with one
// key of the caller's in its user keyring.
func benchServer(b *testing.B) (store *keyring.Store, socket string, id keyring.Serial) {
	b.Helper()
	dir := b.TempDir()
	store, err := keyring.Open(filepath.Join(dir, "keys.db"), keyring.Options{})
	if err != nil {
		b.Fatal(err)
	}
	socket = filepath.Join(dir, "sock")
	srv, err := daemon.Listen(socket, store, daemon.Options{})
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	b.Cleanup(func() {
		srv.Close()
		<-served
		store.Close()
	})
	p := store.Process(perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	id, err = p.Add(context.Background(), "user", "bench", []byte("a 32-byte token for the bench..."), keyring.UserKeyring)
	if err != nil {
		b.Fatal(err)
	}
	return store, socket, id
}

const benchClients = 16

// BenchmarkDaemonRead is reads of one key through the daemon by 16 clients
// at once, each on its own connection; beside it BenchmarkEmbeddedRead
// does the same reads in-process. Reported: ops/s and the p99 latency of
// one read.
func BenchmarkDaemonRead(b *testing.B) {
	b.Run(fmt.Sprintf("clients=%d", benchClients), func(b *testing.B) {
		_, socket, id := benchServer(b)
		ctx := context.Background()
		clients := make([]*daemon.Client, benchClients)
		for i := range clients {
			c, err := daemon.Dial(ctx, socket)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			clients[i] = c
		}
		lat := runClients(b, benchClients, func(i int) error {
			_, err := clients[i].Read(ctx, id)
			return err
		})
		report(b, lat)
	})
}

// BenchmarkEmbeddedRead is BenchmarkDaemonRead's reads made in-process,
// by 16 goroutines on one Process.
func BenchmarkEmbeddedRead(b *testing.B) {
	b.Run(fmt.Sprintf("clients=%d", benchClients), func(b *testing.B) {
		store, _, id := benchServer(b)
		ctx := context.Background()
		p := store.Process(perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
		lat := runClients(b, benchClients, func(int) error {
			_, err := p.Read(ctx, id)
			return err
		})
		report(b, lat)
	})
}

// runClients shares b.N calls among n goroutines and returns each call's
// latency.
func runClients(b *testing.B, n int, call func(i int) error) []time.Duration {
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for g := range n {
		wg.Go(func() {
			for i := g; i < b.N; i += n {
				start := time.Now()
				if err := call(g); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	return lat
}

func report(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkDaemonWatchLatency is an update made by one client and heard by
// another that watches the key. The commit happens inside the daemon, out
// of a client's sight; what a client can measure is reported: an op is one
// durable update's round trip (ns/op), sent-to-heard-ns is from sending
// the update to the watcher holding its record (the update's way in, its
// commit and fsync, and the record's way out), and heard-after-ack-ns is
// how long after the writer's acknowledgement the watcher has the record
// (negative: before it, as the record is posted at the commit, before the
// reply is written). Medians.
func BenchmarkDaemonWatchLatency(b *testing.B) {
	_, socket, id := benchServer(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writer, err := daemon.Dial(ctx, socket)
	if err != nil {
		b.Fatal(err)
	}
	defer writer.Close()
	watcher, err := daemon.Dial(ctx, socket)
	if err != nil {
		b.Fatal(err)
	}
	defer watcher.Close()
	if err := watcher.Watch(ctx, id, 1); err != nil {
		b.Fatal(err)
	}
	heard := make(chan time.Time, 1024)
	go func() {
		for rec, err := range watcher.Records(ctx) {
			if err != nil {
				return
			}
			if k, ok := rec.(watchqueue.KeyNotification); ok && k.Subtype == watchqueue.KeyUpdated {
				heard <- time.Now()
			}
		}
	}()
	sentToHeard := make([]time.Duration, 0, b.N)
	afterAck := make([]time.Duration, 0, b.N)
	payload := []byte("updated token for the benchmark.")
	for b.Loop() {
		sent := time.Now()
		if err := writer.Update(ctx, id, payload); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		select {
		case at := <-heard:
			sentToHeard = append(sentToHeard, at.Sub(sent))
			afterAck = append(afterAck, at.Sub(acked))
		case <-time.After(5 * time.Second):
			b.Fatal("the watcher did not hear an update")
		}
	}
	slices.Sort(sentToHeard)
	slices.Sort(afterAck)
	b.ReportMetric(float64(sentToHeard[len(sentToHeard)/2].Nanoseconds()), "sent-to-heard-ns")
	b.ReportMetric(float64(afterAck[len(afterAck)/2].Nanoseconds()), "heard-after-ack-ns")
}

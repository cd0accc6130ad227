//go:build linux

package watchqueue_test

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// benchQueueSize is the size keyutils' `keyctl watch` asks for.
const benchQueueSize = 256

// BenchmarkPost posts 16-byte records into one queue while a reader drains
// it: the cost a writer pays per notification. The poster outruns the
// reader, so many posts take the loss path; lost/op says how many.
func BenchmarkPost(b *testing.B) {
	q := watchqueue.New(watchqueue.Options{})
	if err := q.SetSize(benchQueueSize); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, watchqueue.ReadBufferSize)
		for {
			if _, err := q.Read(buf); err != nil {
				return
			}
		}
	})
	rec := keyRec(watchqueue.KeyUpdated, 1, 0)
	b.ReportAllocs()
	for b.Loop() {
		q.Post(rec, 1, 0)
	}
	b.StopTimer()
	b.ReportMetric(float64(q.Lost())/float64(b.N), "lost/op")
	q.Close()
	wg.Wait()
}

// BenchmarkPostFull posts into a full queue: the loss path.
func BenchmarkPostFull(b *testing.B) {
	q := watchqueue.New(watchqueue.Options{})
	if err := q.SetSize(benchQueueSize); err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	rec := keyRec(watchqueue.KeyUpdated, 1, 0)
	for q.Post(rec, 1, 0) {
	}
	b.ReportAllocs()
	for b.Loop() {
		q.Post(rec, 1, 0)
	}
}

// BenchmarkPostRead is one producer and one consumer; an op is one record
// delivered, so ns/op compares directly with BenchmarkChanBaseline. To have
// the channel's shape, where a full channel stops the producer, the producer
// posts in batches of 64 and waits for room before each batch, so nothing
// is lost (lost/op shows it) and every op is a record moved end to end.
func BenchmarkPostRead(b *testing.B) {
	q := watchqueue.New(watchqueue.Options{})
	if err := q.SetSize(benchQueueSize); err != nil {
		b.Fatal(err)
	}
	rec := keyRec(watchqueue.KeyUpdated, 1, 0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	capacity := q.Capacity()
	wg.Go(func() {
		for {
			for q.Len() > capacity-64 {
				select {
				case <-stop:
					return
				default:
					runtime.Gosched()
				}
			}
			for range 64 {
				q.Post(rec, 1, 0)
			}
		}
	})
	buf := make([]byte, watchqueue.ReadBufferSize)
	for delivered := 0; delivered < b.N; {
		n, err := q.ReadContext(context.Background(), buf)
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < n; {
			h, _ := watchqueue.DecodeHeader(buf[off:])
			if h.Type == watchqueue.TypeKeyNotify {
				delivered++
			}
			off += h.Len()
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(q.Lost())/float64(b.N), "lost/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	q.Close()
}

// BenchmarkChanBaseline moves the same 16-byte records through a buffered
// Go channel of the same capacity, one producer and one consumer: the
// baseline BenchmarkPostRead is measured against.
func BenchmarkChanBaseline(b *testing.B) {
	ch := make(chan [16]byte, benchQueueSize)
	var rec [16]byte
	copy(rec[:], keyRec(watchqueue.KeyUpdated, 1, 0))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			ch <- rec
		}
	}()
	for range b.N {
		<-ch
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPostDelivered is Post on its delivering path alone: the queue is
// drained outside the timer before it fills, so every op queues a record.
func BenchmarkPostDelivered(b *testing.B) {
	q := watchqueue.New(watchqueue.Options{})
	if err := q.SetSize(benchQueueSize); err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	rec := keyRec(watchqueue.KeyUpdated, 1, 0)
	buf := make([]byte, benchQueueSize*16)
	posts := 0
	b.ReportAllocs()
	for b.Loop() {
		if posts++; posts%benchQueueSize == 0 {
			b.StopTimer()
			q.TryRead(buf)
			b.StartTimer()
		}
		if !q.Post(rec, 1, 0) {
			b.Fatal("record lost")
		}
	}
}

//go:build linux

package notify_test

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/notify"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// BenchmarkFanout is one post reaching every watcher of an object, each
// through its own queue. Queues are drained outside the timer before they
// fill, so every op takes the delivering path, not the loss path.
func BenchmarkFanout(b *testing.B) {
	for _, watchers := range []int{1, 1000} {
		b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
			p := notify.NewPolicy(notify.PolicyOptions{WatchLimit: watchers})
			l := notify.NewWatchList(1, p)
			qs := make([]*watchqueue.Queue, watchers)
			for i := range qs {
				qs[i] = newQueue(b, watchqueue.Options{})
				if err := l.Add(qs[i], 1, alice); err != nil {
					b.Fatal(err)
				}
			}
			rec := keyRec(watchqueue.KeyUpdated, 1, 0)
			buf := make([]byte, watchqueue.ReadBufferSize)
			posts := 0
			b.ReportAllocs()
			for b.Loop() {
				if posts++; posts%200 == 0 {
					b.StopTimer()
					for _, q := range qs {
						for {
							if _, err := q.TryRead(buf); errors.Is(err, unix.EAGAIN) {
								break
							}
						}
					}
					b.StartTimer()
				}
				if n := l.Post(rec, alice, 0); n != watchers {
					b.Fatalf("post reached %d of %d watchers", n, watchers)
				}
			}
		})
	}
}

// BenchmarkFanoutChanBaseline is the same fan-out through buffered Go
// channels, one per watcher, with a non-blocking send to each.
func BenchmarkFanoutChanBaseline(b *testing.B) {
	const watchers = 1000
	b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
		chs := make([]chan [16]byte, watchers)
		for i := range chs {
			chs[i] = make(chan [16]byte, 256)
		}
		var rec [16]byte
		posts := 0
		b.ReportAllocs()
		for b.Loop() {
			if posts++; posts%200 == 0 {
				b.StopTimer()
				for _, ch := range chs {
					for len(ch) > 0 {
						<-ch
					}
				}
				b.StartTimer()
			}
			for _, ch := range chs {
				select {
				case ch <- rec:
				default:
				}
			}
		}
	})
}

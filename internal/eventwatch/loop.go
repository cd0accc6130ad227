//go:build linux

package eventwatch

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// Loop carries one watch's records to its handler and its events to the
// consumer. Pump runs on a goroutine of its own; Emit, Finish and Events
// belong to the consumer's goroutine (Emit and Finish are called by the
// handler, from inside Events).
type Loop[E any] struct {
	recs chan watchqueue.Record // Pump to Events
	lost chan struct{}          // Pump dropped records
	done chan struct{}          // closed when Pump returns

	mu  sync.Mutex // guards err
	err error      // why Pump stopped

	// drops counts the records Pump dropped; resynced is what it was when
	// Events last had everything read again, which covers every drop
	// before it: a lost token for those alone is stale.
	drops    atomic.Uint64
	resynced uint64

	pending  []E
	finished bool
}

// New returns a Loop that holds up to buffer records between reading and
// handling them.
func New[E any](buffer int) *Loop[E] {
	return &Loop[E]{
		recs: make(chan watchqueue.Record, buffer),
		lost: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
}

// Pump reads records until they end or fail (the watch's Close cancels
// the context they were asked for). Run it on its own goroutine, before
// the watch's first call on the store.
func (l *Loop[E]) Pump(records iter.Seq2[watchqueue.Record, error]) {
	defer close(l.done)
	for rec, err := range records {
		if err != nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			return
		}
		select {
		case l.recs <- rec:
		default:
			l.drops.Add(1)
			select {
			case l.lost <- struct{}{}:
			default:
			}
		}
	}
}

// Done is closed when Pump has returned: a watch's Close cancels Pump's
// context and waits for it.
func (l *Loop[E]) Done() <-chan struct{} { return l.done }

// Dropped is how many records Pump has dropped so far.
func (l *Loop[E]) Dropped() uint64 { return l.drops.Load() }

// Emit queues an event for Events to yield.
func (l *Loop[E]) Emit(e E) { l.pending = append(l.pending, e) }

// Finish says the watched thing is gone: Events yields what is queued,
// then ends.
func (l *Loop[E]) Finish() { l.finished = true }

// Events yields the events that handle and resync emit, as records
// arrive: handle turns one record into events; resync, called when
// records were dropped, emits the loss and reads everything again. It
// ends when ctx ends (yielding ctx's error), when Finish was called, when
// Pump stopped because its context was cancelled (the watch was closed:
// no error), or with the first error of handle, resync or the records,
// which wrap makes the watch's own.
func (l *Loop[E]) Events(ctx context.Context, handle func(context.Context, watchqueue.Record) error, resync func(context.Context) error, wrap func(error) error) iter.Seq2[E, error] {
	var zero E
	return func(yield func(E, error) bool) {
		for {
			for len(l.pending) > 0 {
				e := l.pending[0]
				l.pending = l.pending[1:]
				if !yield(e, nil) {
					return
				}
			}
			if l.finished {
				return
			}
			var err error
			select {
			case rec := <-l.recs:
				err = handle(ctx, rec)
			case <-l.lost:
				if n := l.drops.Load(); n != l.resynced {
					l.resynced = n
					err = resync(ctx)
				}
			case <-l.done:
				select {
				case rec := <-l.recs:
					err = handle(ctx, rec)
				default:
					l.mu.Lock()
					err = l.err
					l.mu.Unlock()
					if err == nil || (errors.Is(err, context.Canceled) && ctx.Err() == nil) {
						return // closed
					}
					yield(zero, wrap(err))
					return
				}
			case <-ctx.Done():
				yield(zero, ctx.Err())
				return
			}
			if err != nil {
				yield(zero, wrap(err))
				return
			}
		}
	}
}

package keystore

import (
	"context"
	"errors"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// maxBatch bounds how many calls share one transaction, so that one fsync
// does not wait behind an unbounded amount of work.
const maxBatch = 256

// errRetry rolls back a shared transaction in which one call failed.
var errRetry = errors.New("keystore: retry batch without the failed call")

// call is one Update waiting to be committed.
type call struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// committer runs Updates through one goroutine that takes every call
// queued at the moment it is free and commits them in one transaction.
// Writers arriving while an fsync is under way queue up and share the next
// one; a writer arriving at an idle committer is committed at once. That
// is group commit without bbolt Batch's fixed 10 ms wait.
type committer struct {
	db    *bolt.DB
	calls chan *call
	wg    sync.WaitGroup
	// afterTx runs after every write transaction, committed or rolled back,
	// in the committer's goroutine.
	afterTx func()

	// mu makes sending on calls and closing it exclusive: senders hold it
	// shared while they send, close holds it alone.
	mu     sync.RWMutex
	closed bool
}

func newCommitter(db *bolt.DB, afterTx func()) *committer {
	c := &committer{db: db, calls: make(chan *call, maxBatch), afterTx: afterTx}
	c.wg.Go(c.loop)
	return c
}

func (c *committer) do(ctx context.Context, fn func(*bolt.Tx) error) error {
	cl := &call{fn: fn, done: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return ErrClosed
	}
	select {
	case c.calls <- cl:
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	c.mu.RUnlock()
	return <-cl.done
}

// close lets queued calls finish, then stops the committer. Later calls
// get ErrClosed.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.calls)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *committer) loop() {
	batch := make([]*call, 0, maxBatch)
	for first := range c.calls {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < maxBatch {
			select {
			case cl, ok := <-c.calls:
				if !ok {
					break fill
				}
				batch = append(batch, cl)
			default:
				break fill
			}
		}
		c.run(batch)
	}
}

// run commits batch, taking out calls that fail: each failed call gets its
// own error from a transaction of its own, and the calls before it are
// committed without it, so that no call's failure undoes another's work.
func (c *committer) run(batch []*call) {
	for len(batch) > 0 {
		failed := -1
		err := c.update(func(tx *bolt.Tx) error {
			for i, cl := range batch {
				if err := cl.fn(tx); err != nil {
					failed = i
					return errRetry
				}
			}
			return nil
		})
		switch {
		case failed < 0:
			finish(batch, err)
			return
		case failed > 0:
			// Commit the ones that went through, alone this time.
			c.run(batch[:failed])
		}
		// The failed call, by itself: it may succeed without its
		// predecessors' uncommitted writes, or fail again with its own error.
		cl := batch[failed]
		cl.done <- c.update(cl.fn)
		batch = batch[failed+1:]
	}
}

func finish(batch []*call, err error) {
	for _, cl := range batch {
		cl.done <- err
	}
}

func (c *committer) update(fn func(*bolt.Tx) error) error {
	defer c.afterTx()
	return c.db.Update(fn)
}

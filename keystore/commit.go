package keystore

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// maxBatch bounds how many calls share one transaction, so that one fsync
// does not wait behind an unbounded amount of work.
const maxBatch = 256

// errRetry rolls back a shared transaction in which one call failed.
var errRetry = errors.New("keystore: retry batch without the failed call")

// errPromoted tells a waiting call that it leads now: the leader before
// it finished and left it the queue.
var errPromoted = errors.New("keystore: promoted to commit leader")

// call is one Update waiting to be committed.
type call struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// committer is group commit by leadership. A writer that finds no commit
// under way commits its own call at once, in its own goroutine: no
// hand-off to another goroutine, no fixed wait. Writers arriving while a
// commit is under way queue; when it is done, the leader hands the whole
// queue to the first of them, which commits it in one transaction, so
// that every writer that arrived during one fsync shares the next. That is
// group commit without bbolt Batch's fixed 10 ms wait, and without a
// goroutine switch on a lone writer's path, which costs more than the
// rest of the commit's CPU on a loaded machine.
type committer struct {
	db *bolt.DB
	// afterTx runs after every write transaction, committed or rolled back,
	// in the leader's goroutine.
	afterTx func()

	mu      sync.Mutex
	idle    sync.Cond // signalled when leading becomes false
	queue   []*call
	leading bool // a goroutine is committing; the next leader is promoted from queue
	closed  bool

	lastBatch atomic.Int32 // how many calls the last batch held
}

func newCommitter(db *bolt.DB, afterTx func()) *committer {
	c := &committer{db: db, afterTx: afterTx}
	c.idle.L = &c.mu
	return c
}

func (c *committer) do(ctx context.Context, fn func(*bolt.Tx) error) error {
	cl := &call{fn: fn, done: make(chan error, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.queue = append(c.queue, cl)
	if !c.leading {
		c.leading = true
		c.mu.Unlock()
		c.lead()
		return <-cl.done
	}
	c.mu.Unlock()
	select {
	case err := <-cl.done:
		if err == errPromoted {
			c.lead()
			return <-cl.done
		}
		return err
	case <-ctx.Done():
		c.mu.Lock()
		for i, q := range c.queue {
			if q == cl { // not taken up yet: withdraw it
				c.queue = append(c.queue[:i], c.queue[i+1:]...)
				promoted := false
				select {
				case err := <-cl.done:
					promoted = err == errPromoted
				default:
				}
				c.mu.Unlock()
				if promoted {
					c.lead() // the others' calls still need a leader
				}
				return ctx.Err()
			}
		}
		c.mu.Unlock()
		// Taken up: its outcome is on the way, and must not be abandoned.
		err := <-cl.done
		if err == errPromoted {
			c.lead()
			return <-cl.done
		}
		return err
	}
}

// lead commits one batch, what is queued now (up to maxBatch), then
// passes the lead to the first call still queued, or gives it up.
func (c *committer) lead() {
	if c.lastBatch.Load() > 1 {
		// The last batch had company: its writers were just woken and are
		// on their way back with their next calls. Let them queue before
		// taking the batch, so that they share this fsync instead of the
		// next. A yield, not a timed wait: a lone writer never pays it.
		runtime.Gosched()
	}
	c.mu.Lock()
	n := min(len(c.queue), maxBatch)
	batch := append([]*call(nil), c.queue[:n]...)
	c.queue = append(c.queue[:0], c.queue[n:]...)
	c.mu.Unlock()

	c.lastBatch.Store(int32(len(batch)))
	c.run(batch)

	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) > 0 {
		c.queue[0].done <- errPromoted // it leads now; its own call stays queued
		return
	}
	c.leading = false
	c.idle.Broadcast()
}

// close lets queued calls finish, then stops the committer. Later calls
// get ErrClosed.
func (c *committer) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for c.leading {
		c.idle.Wait()
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

//go:build linux

package journal

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
var errRetry = errors.New("journal: retry batch without the failed call")

// errPromoted tells a waiting call that it leads now: the leader before
// it finished and left it the queue.
var errPromoted = errors.New("journal: promoted to commit leader")

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
	j  *journal
	// afterTx runs after every write transaction, committed or rolled back,
	// in the leader's goroutine.
	afterTx func()
	// beforeWrite, if set, runs before every write transaction begins, in
	// the leader's goroutine: it opens for writing a file opened
	// read-only (DB.forWriting).
	beforeWrite func() error

	mu      sync.Mutex
	idle    sync.Cond // signalled when leading becomes false
	queue   []*call
	leading bool // a goroutine is committing; the next leader is promoted from queue
	closed  bool

	lastBatch atomic.Int32 // how many calls the last batch held
}

func newCommitter(db *bolt.DB, j *journal, afterTx func()) *committer {
	c := &committer{db: db, j: j, afterTx: afterTx}
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
	results := make([]error, len(batch))
	c.commit(batch, results)
	t := c.j.write()

	// The lead passes on before this batch's fsync, so that the next
	// batch is committed while it runs.
	c.mu.Lock()
	if len(c.queue) > 0 {
		c.queue[0].done <- errPromoted // it leads now; its own call stays queued
	} else {
		c.leading = false
		c.idle.Broadcast()
	}
	c.mu.Unlock()

	if err := c.j.finish(t); err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
	}
	for i, cl := range batch {
		cl.done <- results[i]
	}
}

// close lets queued calls finish, then stops the committer. Later calls
// get ErrClosed.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	for c.leading {
		c.idle.Wait()
	}
	c.mu.Unlock()
	c.j.idle()
}

// commit commits batch, taking out calls that fail: each failed call gets
// its own error from a transaction of its own, and the calls before it are
// committed without it, so that no call's failure undoes another's work.
// Each call's outcome goes to results.
func (c *committer) commit(batch []*call, results []error) {
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
			for i := range batch {
				results[i] = err
			}
			return
		case failed > 0:
			// Commit the ones that went through, alone this time.
			c.commit(batch[:failed], results[:failed])
		}
		// The failed call, by itself: it may succeed without its
		// predecessors' uncommitted writes, or fail again with its own error.
		results[failed] = c.update(batch[failed].fn)
		batch, results = batch[failed+1:], results[failed+1:]
	}
}

// update runs fn in one write transaction and commits it into the
// journal's batch.
func (c *committer) update(fn func(*bolt.Tx) error) error {
	defer c.afterTx()
	if err := c.j.begin(); err != nil {
		return err
	}
	if c.beforeWrite != nil {
		if err := c.beforeWrite(); err != nil {
			return err
		}
	}
	btx, err := c.db.Begin(true)
	if err != nil {
		return err
	}
	defer func() {
		if btx.DB() != nil { // not committed: fn failed or panicked
			btx.Rollback()
		}
	}()
	if err := fn(btx); err != nil {
		return err
	}
	if err := c.j.beforeCommit(btx); err != nil {
		return err
	}
	if err := btx.Commit(); err != nil {
		return err
	}
	c.j.committed()
	return nil
}

//go:build linux

package watchqueue

import (
	"context"
	"fmt"
	"io"
	"iter"

	"golang.org/x/sys/unix"
)

// ReadBufferSize is a read buffer that always holds at least one record of
// any kind, loss records included (bytes). Records does its reads with one
// of this size.
const ReadBufferSize = 4096

// Read reads whole records into p, blocking until there is at least one
// (io.Reader). It returns io.EOF once the queue is closed. See ReadContext.
func (q *Queue) Read(p []byte) (int, error) {
	return q.ReadContext(context.Background(), p)
}

// ReadContext reads as many whole records as fit into p, as read() on a
// notification pipe does: records are never split, an owed loss record comes
// first, and a p too small for the next record when nothing has been copied
// yet is ENOBUFS. It blocks while the queue is empty, until a record
// arrives, ctx is done (ctx.Err()), or the queue is closed (io.EOF). An
// empty p returns 0 at once.
func (q *Queue) ReadContext(ctx context.Context, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := q.TryRead(p)
		if err != errEmpty {
			return n, err
		}
		select {
		case <-q.ready:
		case <-q.done:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// errEmpty is what TryRead returns when there is nothing to read: EAGAIN,
// the answer of a non-blocking read.
var errEmpty = fmt.Errorf("watchqueue: read: no records queued: %w", unix.EAGAIN)

// TryRead is ReadContext without blocking: with nothing to read it returns
// an error that is EAGAIN.
func (q *Queue) TryRead(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	q.mu.Lock()
	if q.defunct {
		q.mu.Unlock()
		return 0, io.EOF
	}
	if q.head == q.tail && !q.lossPending {
		q.mu.Unlock()
		return 0, errEmpty
	}
	n, err := q.readLocked(p)
	more := q.head != q.tail || q.lossPending
	q.mu.Unlock()
	if more {
		// Left something behind (p was full): keep Ready firing, so a select
		// loop comes back for it.
		q.signalReady()
	}
	return n, err
}

// readLocked is the loop of fs/pipe.c's pipe_read for a notification pipe.
func (q *Queue) readLocked(p []byte) (int, error) {
	n := 0
	for {
		if q.lossPending {
			size := lossRecordSize
			if q.revisions {
				size += RevisionSize
			}
			if len(p)-n < size {
				return n, q.tooSmall(n, len(p), size)
			}
			// Appending into p[n:n] writes in place: p has the room.
			Loss{Revision: q.lossRev}.AppendBinary(p[n:n], q.revisions)
			n += size
			q.lossPending = false
		}
		if q.head == q.tail {
			return n, nil
		}
		nt := &q.ring[q.tail&q.mask]
		size := nt.len()
		if size > len(p)-n {
			return n, q.tooSmall(n, len(p), size)
		}
		copy(p[n:], nt[:size])
		n += size
		if nt[lostFlag] != 0 {
			q.lossPending = true
			if q.revisions {
				q.lossRev = nt.revision()
			}
		}
		// The fix for releasing pages (c1853fbadcba): moving the tail past
		// the record is what frees its note for the next post.
		q.tail++
		// As pipe_read does: stop when p is full or the ring is empty, so a
		// loss charged to the last record comes at the start of the next read.
		if n == len(p) || q.head == q.tail {
			return n, nil
		}
	}
}

// tooSmall ends a read that cannot take the next record whole: a short read
// if something was copied, else ENOBUFS.
func (q *Queue) tooSmall(n, bufLen, need int) error {
	if n > 0 {
		return nil
	}
	return fmt.Errorf("watchqueue: read: next record is %d bytes, buffer %d: %w", need, bufLen, unix.ENOBUFS)
}

// Ready returns a channel that receives when the queue may have something
// to read, for select loops. It is a hint, edge-triggered: after a receive,
// read with TryRead until it says EAGAIN, then wait on Ready again. Unlike
// poll() on a notification pipe, an owed loss record alone makes the queue
// ready.
func (q *Queue) Ready() <-chan struct{} { return q.ready }

// Done returns a channel that is closed when the queue is closed.
func (q *Queue) Done() <-chan struct{} { return q.done }

// Records returns an iterator over the queue's records, decoded. It blocks
// for records as ReadContext does, and ends after yielding ctx.Err() when
// ctx is done, or without an error once the queue is closed. Breaking out of
// the loop stops it; records read but not yet yielded are lost to the
// caller, so break only when done with the queue.
func (q *Queue) Records(ctx context.Context) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		buf := make([]byte, ReadBufferSize)
		for {
			n, err := q.ReadContext(ctx, buf)
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			for b := buf[:n]; len(b) > 0; {
				rec, size, err := Decode(b, q.revisions)
				if err != nil {
					// Cannot happen with records Post wrote; stop rather
					// than walk on from a length that cannot be trusted.
					yield(nil, err)
					return
				}
				if !yield(rec, nil) {
					return
				}
				b = b[size:]
			}
		}
	}
}

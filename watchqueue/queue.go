//go:build linux

package watchqueue

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Sizing, as the kernel sizes a notification pipe.
const (
	MinNotes = 1   // smallest size SetSize accepts
	MaxNotes = 512 // largest size SetSize accepts

	// NotesPerPage is how many 128-byte notes fit a 4 KiB page; sizes are
	// rounded up to whole pages of notes.
	NotesPerPage = 32
	noteSize     = 128 // bytes; one record of at most MaxRecordSize bytes per note
)

// Options configure a Queue. The zero value gives the kernel's behaviour.
type Options struct {
	// Revisions makes every record carry the 64-bit revision its poster
	// supplied, appended after the kernel's layout (8 more bytes, and the
	// length field says so), and makes the loss record carry the revision of
	// the last record delivered before the gap. Off, records are byte for
	// byte what the kernel would produce.
	Revisions bool
}

// Attachment is something bound to a queue, such as a watch, that must be
// let go when the queue closes. Close calls QueueClosed once for each
// attachment still bound, after the queue has become defunct and without
// holding any lock of the queue.
type Attachment interface {
	QueueClosed(q *Queue)
}

// note is one ring slot: a record of at most MaxRecordSize bytes, with the
// byte after the largest record free for the slot's loss flag. The record's
// own length field says how long it is, so the slot needs nothing else.
type note [noteSize]byte

// lostFlag is the note byte that, when set, says records were dropped while
// this record was the newest (the kernel's PIPE_BUF_FLAG_LOSS).
const lostFlag = noteSize - 1

// Queue is a bounded notification queue: the userspace counterpart of the
// kernel's notification pipe. See the package documentation.
type Queue struct {
	// filter comes first, beside the fields Post uses, so that a fan-out
	// over many queues touches one cache line less per queue.
	filter atomic.Pointer[compiledFilter] // nil: everything passes

	// mu guards everything below it. Posting holds it only to copy one
	// record in; reading holds it while copying records out. Lock order: a
	// caller may hold its own locks (a watch list's) when taking mu, never
	// the other way round: Close drops mu before calling attachments.
	mu          sync.Mutex
	sized       bool
	defunct     bool
	revisions   bool   // immutable after New
	ring        []note // len is a power of two; a record takes one note
	mask        uint64 // len(ring)-1
	nrNotes     uint64 // capacity: the kernel's note count, never more than len(ring)
	head, tail  uint64 // free-running; a record's slot is its counter & mask
	lossPending bool   // a loss record is owed to the reader
	lossRev     uint64 // revision the owed loss record carries
	lost        uint64 // records dropped because the queue was full
	attachments map[Attachment]struct{}

	// ready holds a token while the queue may have something to read.
	ready chan struct{}
	// done is closed by Close, to release blocked readers.
	done chan struct{}
}

// New returns an unsized queue. Until SetSize succeeds every post is
// silently dropped, as the kernel drops notifications to an unsized pipe.
func New(opts Options) *Queue {
	return &Queue{
		revisions:   opts.Revisions,
		ready:       make(chan struct{}, 1),
		done:        make(chan struct{}),
		attachments: make(map[Attachment]struct{}),
	}
}

// Revisions reports whether the queue's records carry revisions.
func (q *Queue) Revisions() bool { return q.revisions }

// SetSize sizes the queue to hold at least notes records
// (IOC_WATCH_QUEUE_SET_SIZE). As in the kernel, notes is rounded up to whole
// pages of NotesPerPage notes, and the ring gets the next power of two
// slots. Out of MinNotes..MaxNotes is EINVAL; a queue that is already sized
// is EBUSY; a closed queue is ENOENT. A failed call leaves the queue as it
// was, so it can be sized later.
func (q *Queue) SetSize(notes int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.defunct:
		return fmt.Errorf("watchqueue: set size: queue is closed: %w", unix.ENOENT)
	case q.sized:
		return fmt.Errorf("watchqueue: set size: already sized to %d notes: %w", q.nrNotes, unix.EBUSY)
	case notes < MinNotes || notes > MaxNotes:
		return fmt.Errorf("watchqueue: set size: %d notes is outside %d..%d: %w", notes, MinNotes, MaxNotes, unix.EINVAL)
	}
	// The fix for the alloc bitmap (3b4c0371928c): round up to whole pages
	// first, and take the capacity from that one number.
	nrNotes := ringPages(notes) * NotesPerPage
	// The fix for the ring size (96a4d8912b28): indices are masked, so the
	// ring must be a power of two, never smaller than the notes. Each slot
	// is its own note, so the kernel's separate note allocator, and the
	// chance of it disagreeing with the ring, are gone: a slot is free
	// exactly when the reader has passed it.
	q.ring = make([]note, ringSlots(nrNotes))
	q.mask = uint64(len(q.ring) - 1)
	q.nrNotes = uint64(nrNotes)
	q.sized = true
	return nil
}

// ringPages is how many 4 KiB pages of notes hold notes records.
func ringPages(notes int) int { return (notes + NotesPerPage - 1) / NotesPerPage }

// ringSlots is the power of two the kernel's pipe_resize_ring gets for nrNotes.
func ringSlots(nrNotes int) int { return 1 << bits.Len(uint(nrNotes-1)) }

// Capacity is how many records the queue holds before it drops: the number
// of notes, or 0 while unsized.
func (q *Queue) Capacity() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int(q.nrNotes)
}

// RingSlots is the size of the queue's ring, a power of two no smaller than
// its capacity, or 0 while unsized.
func (q *Queue) RingSlots() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ring)
}

// Len is how many records are queued and unread.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int(q.head - q.tail)
}

// Buffered is how many bytes of records are queued and unread (FIONREAD).
// An owed loss record is not counted, as the kernel does not count it.
func (q *Queue) Buffered() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for t := q.tail; t != q.head; t++ {
		n += q.ring[t&q.mask].len()
	}
	return n
}

// Lost is how many records the queue has dropped because it was full, since
// it was made.
func (q *Queue) Lost() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lost
}

// SetFilter replaces the queue's filter (IOC_WATCH_QUEUE_SET_FILTER); nil
// removes it, so that everything passes. It may be called any number of
// times, before or after SetSize. Every post sees either the old filter or
// the new one.
func (q *Queue) SetFilter(f *Filter) error {
	if f == nil {
		q.filter.Store(nil)
		return nil
	}
	cf, err := compileFilter(f)
	if err != nil {
		return err
	}
	q.filter.Store(cf)
	return nil
}

// Wants reports whether the queue's filter lets a record with header h
// through. Posters of watched events call it with the watch's tag already in
// h.Info; removal and loss records skip it.
func (q *Queue) Wants(h Header) bool {
	cf := q.filter.Load()
	return cf == nil || cf.match(h)
}

// Post copies one record into the queue without filtering it
// (post_one_notification), and reports whether it was queued. It never
// blocks waiting for room and never allocates.
//
// rec is a whole record in the kernel's layout, header first, of 8..127
// bytes (8..119 on a queue that keeps revisions). Post writes tag into the
// header's ID bits and the true length into its length bits; on a queue that
// keeps revisions it appends rev. A record of another length is dropped.
//
// When the queue is full the record is dropped and the loss is charged to
// the newest unread record, so that the reader meets one loss record right
// after it. Posts to an unsized or closed queue are dropped silently.
func (q *Queue) Post(rec []byte, tag uint8, rev uint64) bool {
	n := len(rec)
	if q.revisions {
		n += RevisionSize
	}
	if len(rec) < HeaderSize || n > MaxRecordSize {
		return false
	}

	q.mu.Lock()
	if !q.sized || q.defunct {
		q.mu.Unlock()
		return false
	}
	if q.head-q.tail >= q.nrNotes {
		// Lost. If the ring is empty there is no record to charge: the
		// kernel's slot head-1 is stale then, so nothing is reported.
		q.lost++
		if q.head != q.tail {
			q.ring[(q.head-1)&q.mask][lostFlag] = 1
		}
		q.mu.Unlock()
		return false
	}
	nt := &q.ring[q.head&q.mask]
	copy(nt[:], rec)
	info := binary.LittleEndian.Uint32(nt[4:])
	binary.LittleEndian.PutUint32(nt[4:], info&^(InfoID|InfoLength)|uint32(tag)<<InfoIDShift|uint32(n))
	if q.revisions {
		binary.LittleEndian.PutUint64(nt[len(rec):], rev)
	}
	nt[lostFlag] = 0
	// The fix for post versus read (2ed147f015af): the record is complete
	// before head moves, and both happen under the lock readers take.
	wasEmpty := q.head == q.tail
	q.head++
	q.mu.Unlock()

	if wasEmpty {
		q.signalReady()
	}
	return true
}

// len is the length of the record in the note, from its header.
func (nt *note) len() int { return int(nt[4]) & int(InfoLength) }

// revision is the revision appended to the record in the note, on a queue
// that keeps revisions.
func (nt *note) revision() uint64 {
	n := nt.len()
	return binary.LittleEndian.Uint64(nt[n-RevisionSize : n])
}

// signalReady leaves a token in the ready channel if none is there.
func (q *Queue) signalReady() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// Attach binds a to the queue, so that Close lets it go. It fails with
// ENOENT once the queue is closed: a defunct queue takes no new watches.
func (q *Queue) Attach(a Attachment) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.defunct {
		return fmt.Errorf("watchqueue: attach: queue is closed: %w", unix.ENOENT)
	}
	q.attachments[a] = struct{}{}
	return nil
}

// Detach unbinds a; Close will not call it. Detaching something not
// attached does nothing.
func (q *Queue) Detach(a Attachment) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.attachments, a)
}

// Attached is how many attachments the queue holds.
func (q *Queue) Attached() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.attachments)
}

// Close makes the queue defunct at once: later posts are dropped, Attach
// fails, blocked readers return io.EOF, and unread records are discarded.
// Then every attachment still bound is let go, without a record. Close is
// idempotent and always returns nil.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.defunct {
		q.mu.Unlock()
		return nil
	}
	q.defunct = true
	attached := q.attachments
	q.attachments = nil
	// The fixes for teardown (7ea1a0124b6d, db8facfc9faf and the page array
	// leak): drop the ring and everything sized with it together, under the
	// lock every reader and poster takes, so nobody sees half of it.
	q.ring, q.mask, q.nrNotes = nil, 0, 0
	q.head, q.tail, q.lossPending = 0, 0, false
	close(q.done)
	q.mu.Unlock()

	for a := range attached {
		a.QueueClosed(q)
	}
	return nil
}

// Closed reports whether Close has been called.
func (q *Queue) Closed() bool {
	select {
	case <-q.done:
		return true
	default:
		return false
	}
}

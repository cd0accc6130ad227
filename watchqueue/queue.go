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

// slot is one entry of the ring: which note holds the record, and whether
// records were lost right after it.
type slot struct {
	note uint16
	len  uint8
	lost bool   // PIPE_BUF_FLAG_LOSS: records were dropped while this was the newest
	rev  uint64 // the poster's revision, for the loss record that may follow
}

// Queue is a bounded notification queue: the userspace counterpart of the
// kernel's notification pipe. See the package documentation.
type Queue struct {
	revisions bool // immutable after New

	filter atomic.Pointer[compiledFilter] // nil: everything passes

	// ready holds a token while the queue may have something to read.
	ready chan struct{}
	// done is closed by Close, to release blocked readers.
	done chan struct{}

	// mu guards everything below. Posting holds it only to copy one record
	// in; reading holds it while copying records out. Lock order: a caller
	// may hold its own locks (a watch list's) when taking mu, never the
	// other way round: Close drops mu before calling attachments.
	mu          sync.Mutex
	sized       bool
	defunct     bool
	notes       []byte   // nrNotes × noteSize
	free        []uint64 // note allocator: bit set = note free
	nrNotes     int
	ring        []slot // len is a power of two
	head, tail  uint64 // free-running; index = counter & (len(ring)-1)
	lossPending bool   // a loss record is owed to the reader
	lossRev     uint64 // revision the owed loss record carries
	lost        uint64 // records dropped because the queue was full
	attachments map[Attachment]struct{}
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
	// first, and size the allocator, the note area and the capacity all from
	// that one number.
	nrNotes := ringPages(notes) * NotesPerPage
	// The fix for the ring size (96a4d8912b28): indices are masked, so the
	// ring must be a power of two, never smaller than the notes.
	q.ring = make([]slot, ringSlots(nrNotes))
	q.notes = make([]byte, nrNotes*noteSize)
	q.free = make([]uint64, (nrNotes+63)/64)
	for i := 0; i < nrNotes; i++ {
		q.free[i/64] |= 1 << (i % 64)
	}
	q.nrNotes = nrNotes
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
	return q.nrNotes
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
		n += int(q.ring[t&uint64(len(q.ring)-1)].len)
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
	mask := uint64(len(q.ring) - 1)
	note := -1
	if q.head-q.tail < uint64(len(q.ring)) {
		note = q.allocNote()
	}
	if note < 0 {
		// Lost. If the ring is empty there is no record to charge: the
		// kernel's slot head-1 is stale then, so nothing is reported.
		q.lost++
		if q.head != q.tail {
			q.ring[(q.head-1)&mask].lost = true
		}
		q.mu.Unlock()
		return false
	}
	b := q.notes[note*noteSize : note*noteSize+n]
	copy(b, rec)
	info := binary.LittleEndian.Uint32(b[4:])
	binary.LittleEndian.PutUint32(b[4:], info&^(InfoID|InfoLength)|uint32(tag)<<InfoIDShift|uint32(n))
	if q.revisions {
		binary.LittleEndian.PutUint64(b[len(rec):], rev)
	}
	// The fix for post versus read (2ed147f015af): the record is complete
	// before head moves, and both happen under the lock readers take.
	q.ring[q.head&mask] = slot{note: uint16(note), len: uint8(n), rev: rev}
	wasEmpty := q.head == q.tail
	q.head++
	q.mu.Unlock()

	if wasEmpty {
		q.signalReady()
	}
	return true
}

// allocNote takes the lowest free note, or returns -1 if none is free.
func (q *Queue) allocNote() int {
	for w, word := range q.free {
		if word != 0 {
			bit := bits.TrailingZeros64(word)
			q.free[w] = word &^ (1 << bit)
			return w*64 + bit
		}
	}
	return -1
}

// freeNote returns a note to the allocator. The fix for releasing pages
// (c1853fbadcba): a consumed record must give its note back, or the queue
// shrinks with every read.
func (q *Queue) freeNote(note uint16) {
	q.free[note/64] |= 1 << (note % 64)
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
	// leak): drop the ring, the notes and the allocator together, under the
	// lock every reader and poster takes, so nobody sees half of them.
	q.ring, q.notes, q.free, q.nrNotes = nil, nil, nil, 0
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

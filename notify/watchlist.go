//go:build linux

package notify

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// MaxTag is the largest watch tag: tags fill the 8-bit ID field of a
// record's info word.
const MaxTag = 255

// watch binds a queue to a watched object (struct watch).
type watch struct {
	list  *WatchList
	queue *watchqueue.Queue
	tag   uint8
	owner perms.Cred // captured when the watch was set; MayPost sees this copy

	// ended is set by whichever of Remove, Destroy and the queue's Close
	// ends the watch first; only that one releases its quota and unlinks it.
	ended atomic.Bool
}

// QueueClosed implements watchqueue.Attachment: the queue is gone, so the
// watch leaves its object's list, silently, as the kernel's teardown does.
func (w *watch) QueueClosed(*watchqueue.Queue) {
	if !w.ended.CompareAndSwap(false, true) {
		return
	}
	w.list.unlink(w)
	w.list.policy.quota.release(w.owner.UID)
}

// WatchList holds the watches on one object (struct watch_list), and posts
// the object's notifications to them.
//
// Posting takes no lock of the list: it reads an immutable snapshot of the
// watches that Add, Remove and Destroy replace. So a post that races a
// Remove may reach the removed watch's queue after its removal record;
// callers that need the removal record to be last serialise the two, as the
// key store does by posting in commit order.
type WatchList struct {
	id     uint64
	policy *Policy

	// mu serialises changes to the list. Lock order: mu, then a queue's lock.
	mu        sync.Mutex
	destroyed bool
	watches   atomic.Pointer[[]*watch] // newest first
}

// NewWatchList returns an empty watch list for the object id, counting its
// watches under p.
func NewWatchList(id uint64, p *Policy) *WatchList {
	l := &WatchList{id: id, policy: p}
	l.watches.Store(&[]*watch{})
	return l
}

// ID is the id of the watched object.
func (l *WatchList) ID() uint64 { return l.id }

// Len is how many watches the list holds.
func (l *WatchList) Len() int { return len(*l.watches.Load()) }

// Add sets a watch on the object for the queue q, with the given tag and
// the credentials of the caller setting it. In the kernel's order: the
// security hook may refuse it; a queue that already watches this object is
// EBUSY, whatever the tag; a closed queue is ENOENT; an owner who already
// holds the watch limit is EAGAIN. Adding to a destroyed object is ENOENT.
func (l *WatchList) Add(q *watchqueue.Queue, tag uint8, owner perms.Cred) error {
	if err := l.policy.security.MayWatch(owner, l.id); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.destroyed {
		return fmt.Errorf("notify: watch object %d: destroyed: %w", l.id, unix.ENOENT)
	}
	// The duplicate check and the insert are under one lock (the fix for the
	// missing locking in add_watch_to_object), so two racing Adds of the
	// same queue cannot both succeed.
	cur := *l.watches.Load()
	if slices.ContainsFunc(cur, func(w *watch) bool { return w.queue == q }) {
		return fmt.Errorf("notify: watch object %d: queue already watches it: %w", l.id, unix.EBUSY)
	}
	if q.Closed() {
		return fmt.Errorf("notify: watch object %d: queue is closed: %w", l.id, unix.ENOENT)
	}
	if err := l.policy.quota.charge(owner.UID); err != nil {
		return fmt.Errorf("notify: watch object %d: %w", l.id, err)
	}
	w := &watch{list: l, queue: q, tag: tag, owner: owner.Clone()}
	if err := q.Attach(w); err != nil {
		l.policy.quota.release(owner.UID)
		return fmt.Errorf("notify: watch object %d: %w", l.id, err)
	}
	next := make([]*watch, 0, len(cur)+1)
	next = append(append(next, w), cur...)
	l.watches.Store(&next)
	return nil
}

// Remove removes q's watch from the object: the queue gets a removal record
// carrying the object's id and the watch's tag, and then the watch is
// dropped and its quota returned. No such watch is EBADSLT. rev is the
// revision the removal record carries on queues that keep revisions.
func (l *WatchList) Remove(q *watchqueue.Queue, rev uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := *l.watches.Load()
	i := slices.IndexFunc(cur, func(w *watch) bool { return w.queue == q })
	if i < 0 || !cur[i].ended.CompareAndSwap(false, true) {
		return fmt.Errorf("notify: unwatch object %d: queue does not watch it: %w", l.id, unix.EBADSLT)
	}
	w := cur[i]
	l.watches.Store(new(slices.Delete(slices.Clone(cur), i, i+1)))
	l.release(w, rev)
	return nil
}

// Destroy is called when the object is gone: every watch, newest first, gets
// a removal record carrying the object's id, then is dropped and its quota
// returned. Later Adds are ENOENT and later posts reach nobody.
func (l *WatchList) Destroy(rev uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.destroyed = true
	cur := *l.watches.Load()
	l.watches.Store(&[]*watch{})
	for _, w := range cur {
		if w.ended.CompareAndSwap(false, true) {
			l.release(w, rev)
		}
	}
}

// PostLoss posts rec, a loss record, to every watch's queue, unfiltered:
// notifications for the key were lost before they reached this list (a
// store shared by hosts whose change feed missed changes). rev is the
// revision of the last notification delivered before the loss.
func (l *WatchList) PostLoss(rec []byte, rev uint64) {
	for _, w := range *l.watches.Load() {
		w.queue.Post(rec, 0, rev) // a loss record carries no watch tag
	}
}

// release posts w's removal record, detaches w from its queue and returns
// its quota. The caller has ended w and holds l.mu.
func (l *WatchList) release(w *watch, rev uint64) {
	var buf [watchqueue.MaxRecordSize]byte
	rec := watchqueue.Removal{Tag: w.tag, ID: l.id, HasID: true}.AppendBinary(buf[:0], false)
	w.queue.Post(rec, w.tag, rev)
	w.queue.Detach(w)
	l.policy.quota.release(w.owner.UID)
}

// unlink drops w from the list without a record.
func (l *WatchList) unlink(w *watch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := *l.watches.Load()
	if i := slices.Index(cur, w); i >= 0 {
		l.watches.Store(new(slices.Delete(slices.Clone(cur), i, i+1)))
	}
}

// Post delivers a record about the object to every watch on it
// (post_watch_notification): for each watch, its tag goes into the record's
// info, then the watch's queue filter, then the security hook, then the
// queue. rec is a whole record in the kernel's layout (see
// watchqueue.Queue.Post); poster is whoever made the change; rev is the
// revision queues that keep revisions attach. Post never blocks on a queue
// and never allocates; it returns how many queues took the record.
func (l *WatchList) Post(rec []byte, poster perms.Cred, rev uint64) int {
	h, err := watchqueue.DecodeHeader(rec)
	if err != nil {
		return 0
	}
	p := l.policy
	delivered := 0
	for _, w := range *l.watches.Load() {
		h.Info = h.Info&^watchqueue.InfoID | uint32(w.tag)<<watchqueue.InfoIDShift
		if !w.queue.Wants(h) || p.askPost && !p.security.MayPost(w.owner, poster, l.id, h) {
			continue
		}
		if w.queue.Post(rec, w.tag, rev) {
			delivered++
		}
	}
	return delivered
}

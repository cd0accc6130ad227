//go:build linux

package notify

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// DefaultWatchLimit is how many watches one user may hold at once when no
// limit is configured. The kernel checks a user's watch count against the
// caller's RLIMIT_NOFILE soft limit, which is commonly 1024.
const DefaultWatchLimit = 1024

// quota counts each user's watches against one limit
// (user_struct.nr_watches in the kernel).
type quota struct {
	limit int

	mu     sync.Mutex
	counts map[uint32]int // uid → watches held; a uid at 0 is deleted
}

func newQuota(limit int) *quota {
	if limit <= 0 {
		limit = DefaultWatchLimit
	}
	return &quota{limit: limit, counts: make(map[uint32]int)}
}

// charge counts one more watch for uid, or fails with EAGAIN if uid already
// holds the limit.
func (q *quota) charge(uid uint32) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.counts[uid] >= q.limit {
		return fmt.Errorf("notify: uid %d holds %d watches, the limit: %w", uid, q.limit, unix.EAGAIN)
	}
	q.counts[uid]++
	return nil
}

// release gives back one watch of uid. Every watch calls it exactly once.
func (q *quota) release(uid uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch n := q.counts[uid]; {
	case n > 1:
		q.counts[uid] = n - 1
	case n == 1:
		delete(q.counts, uid)
	default:
		panic(fmt.Sprintf("notify: watch quota of uid %d released more often than charged", uid))
	}
}

func (q *quota) count(uid uint32) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.counts[uid]
}

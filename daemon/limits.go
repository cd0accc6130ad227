//go:build linux

package daemon

import (
	"math"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultMaxConnsPerUID is how many connections one uid may hold at once
// (Options.MaxConnsPerUID): far more than a user's programs keep open
// (one per keyctl-go command, watcher or library client), and few enough
// that one user cannot spend the daemon's descriptors (fdsPerConn each)
// and lock everyone else out.
const DefaultMaxConnsPerUID = 256

// DefaultFirstRequestTimeout is how long a new connection has to send its
// first whole request before it is cut (Options.FirstRequestTimeout). A
// client sends it at once (Dial's pipes), so 10 s only ever cuts
// connections opened to be held, which the per-uid limit would otherwise
// let one user keep by the hundred, without ever being used.
const DefaultFirstRequestTimeout = 10 * time.Second

// fdsPerConn is how many descriptors a connection holds in the daemon:
// its socket, and its ends of the two pipes once on them (the client's
// ends are held too, for the moment of sending them).
const fdsPerConn = 3

// reservedFDs are descriptors (of RLIMIT_NOFILE) that ordinary users'
// connections never take: the store, the listener, the standard streams
// and the runtime's own, and about 40 connections for root and the
// daemon's own user, whom the per-uid limit does not bound, so that they
// can still reach a daemon that other users fill up.
const reservedFDs = 128

// connLimits bounds the connections of ordinary uids (all but the
// exempt: root and the daemon's own uid): each uid to perUID, and all of
// them together to budget, what RLIMIT_NOFILE leaves after the reserve.
// A connection past either is closed as soon as it is accepted. It
// counts the exempt uids' connections too, unbounded, for the daemon's
// status. The Gate's mu guards it.
type connLimits struct {
	exempt []uint32
	perUID int // < 0: no bound per uid
	budget int

	byUID    map[uint32]int // connections of each uid that has any, exempt or not
	ordinary int            // the ordinary uids', all together
}

func newConnLimits(perUID int) *connLimits {
	exempt := []uint32{0, uint32(os.Geteuid())}
	return &connLimits{exempt: exempt, perUID: perUID, budget: connBudget(), byUID: make(map[uint32]int)}
}

// connBudget is how many connections ordinary uids may hold together:
// what RLIMIT_NOFILE (the soft limit, which Go raises to the hard one at
// start-up) leaves after reservedFDs, at fdsPerConn each.
func connBudget() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > math.MaxInt32 {
		return math.MaxInt32
	}
	return max(0, (int(rl.Cur)-reservedFDs)/fdsPerConn)
}

func (l *connLimits) isExempt(uid uint32) bool { return slices.Contains(l.exempt, uid) }

// admit counts a new connection of uid, or says why it is refused.
func (l *connLimits) admit(uid uint32) (refused string, ok bool) {
	if !l.isExempt(uid) {
		switch {
		case l.perUID >= 0 && l.byUID[uid] >= l.perUID:
			return "connection limit per uid reached", false
		case l.ordinary >= l.budget:
			return "descriptors for users' connections all in use", false
		}
		l.ordinary++
	}
	l.byUID[uid]++
	return "", true
}

// release uncounts a connection admit counted.
func (l *connLimits) release(uid uint32) {
	if !l.isExempt(uid) {
		l.ordinary--
	}
	if l.byUID[uid]--; l.byUID[uid] == 0 {
		delete(l.byUID, uid)
	}
}

// A logLimiter lets one line of a kind through per interval and counts
// the rest, so that a user opening connections by the thousand cannot
// flood the journal through the daemon. Guarded by its user's lock.
type logLimiter struct {
	interval   time.Duration
	last       time.Time
	suppressed int // lines held back since the last one let through
}

// allow reports whether a line may be logged now, and how many were held
// back before it.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.suppressed++
		return false, 0
	}
	suppressed = l.suppressed
	l.last, l.suppressed = now, 0
	return true, suppressed
}

//go:build linux

package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"sync"
	"time"
)

// A Gate decides which connections a server serves, and keeps what that
// takes: who may connect at all (GateOptions.Private), how many
// connections each uid may hold, and the descriptors kept for root and
// the server's own uid (see the Trust section of the package doc). It
// also accepts: out of descriptors, it backs off instead of spinning, and
// it logs refusals and failed accepts at a rate nobody can flood.
//
// One Gate may admit for several servers of one process, the daemon's
// socket and its KCM socket (package kcm): a uid's connections to any of
// them count together against its limit, and all of them against one
// budget of descriptors. A KCM connection holds one descriptor, not the
// fdsPerConn a daemon connection may; it is counted as one of those, which
// errs on the side of the reserve.
//
// A Server makes its own Gate; Server.Gate hands it to another server to
// share.
type Gate struct {
	private bool
	perUID  int // as GateOptions.MaxConnsPerUID, 0 made the default
	log     *slog.Logger

	// mu guards the fields below. It is taken last: nothing else is
	// locked while it is held.
	mu         sync.Mutex
	limits     *connLimits
	admitted   int        // connections admitted and not yet released, all uids'
	refusedLog logLimiter // connections refused at accept
	cutLog     logLimiter // connections cut for sending no request
}

// GateOptions configure a Gate. The zero value admits every uid, each to
// DefaultMaxConnsPerUID connections.
type GateOptions struct {
	// Private admits only the uid the process runs as, and root: a
	// per-user daemon's. Anyone else is hung up on as soon as accepted.
	Private bool
	// MaxConnsPerUID bounds the connections one uid may hold at once;
	// 0 means DefaultMaxConnsPerUID, a negative value no bound. Root and
	// the process's own uid are not bounded, and some descriptors are
	// kept for them that other uids cannot take (see reservedFDs).
	MaxConnsPerUID int
	// Logger receives refusals (uid, pid, why), cut connections and
	// failed accepts; nil discards them.
	Logger *slog.Logger
}

// refusedLogInterval is how often a refused or cut connection is logged
// at most (per kind); those in between are counted in the next line.
const refusedLogInterval = time.Second

// acceptBackoffMax is the longest Accept waits before accepting again
// after accept(2) failed: out of descriptors (EMFILE, ENFILE) it fails
// until connections close, and retrying sooner would only spin.
const acceptBackoffMax = time.Second

// NewGate returns a Gate with no connection admitted. Its budget of
// descriptors is computed now, from RLIMIT_NOFILE.
func NewGate(opts GateOptions) *Gate {
	if opts.MaxConnsPerUID == 0 {
		opts.MaxConnsPerUID = DefaultMaxConnsPerUID
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Gate{
		private:    opts.Private,
		perUID:     opts.MaxConnsPerUID,
		log:        log,
		limits:     newConnLimits(opts.MaxConnsPerUID),
		refusedLog: logLimiter{interval: refusedLogInterval},
		cutLog:     logLimiter{interval: refusedLogInterval},
	}
}

// Private reports whether the gate admits only its own uid and root.
func (g *Gate) Private() bool { return g.private }

// Accept waits for a connection on ln that the gate admits and returns
// it, with who is at the other end as the kernel says. The caller serves
// it and calls Release once, when it is closed. Connections the gate
// refuses are closed before anything is read from them, and logged.
//
// When accept(2) fails (out of descriptors, say), Accept waits, doubling
// the wait up to acceptBackoffMax, and tries again; a run of failures is
// logged when it starts and when it ends, not at every try. Accept
// returns net.ErrClosed once ln is closed, and ctx's error once ctx ends.
// It leaves ln's deadline in the past then, for nothing else to accept.
func (g *Gate) Accept(ctx context.Context, ln *net.UnixListener) (*net.UnixConn, Peer, error) {
	stop := context.AfterFunc(ctx, func() { ln.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	socket := ln.Addr().String()
	var backoff time.Duration
	var failed int
	var failingSince time.Time
	for {
		c, err := ln.AcceptUnix()
		if ctx.Err() != nil {
			if c != nil {
				c.Close()
			}
			return nil, Peer{}, ctx.Err()
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, Peer{}, err
			}
			// Out of descriptors and the like pass; back off rather
			// than spin, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), acceptBackoffMax)
			if failed == 0 {
				failingSince = time.Now()
				g.log.Warn("daemon: accept failing, backing off", "err", err, "conns", g.connections(), "socket", socket)
			}
			failed++
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
				return nil, Peer{}, ctx.Err()
			}
		}
		if failed > 0 {
			g.log.Info("daemon: accepting again", "failed_accepts", failed, "after", time.Since(failingSince).Round(time.Millisecond), "socket", socket)
			failed, backoff = 0, 0
		}
		p, err := peerOf(c)
		if err != nil {
			g.log.Warn("daemon: peer credentials", "err", err, "socket", socket)
			c.Close()
			continue
		}
		if g.admit(socket, p) {
			return c, p, nil
		}
		c.Close()
	}
}

// admit counts a connection of p, or logs why it is refused.
func (g *Gate) admit(socket string, p Peer) bool {
	g.mu.Lock()
	refused := ""
	if g.private && !g.limits.isExempt(p.Cred.UID) {
		refused = "a per-user daemon serves its own uid and root only"
	} else if why, ok := g.limits.admit(p.Cred.UID); !ok {
		refused = why
	}
	if refused == "" {
		g.admitted++
		g.mu.Unlock()
		return true
	}
	logIt, suppressed := g.refusedLog.allow(time.Now())
	g.mu.Unlock()
	if logIt {
		g.log.Warn("daemon: connection refused", "uid", p.Cred.UID, "pid", p.PID, "reason", refused,
			"refused_since_last", suppressed, "socket", socket)
	}
	return false
}

// Release uncounts a connection Accept admitted, when it is closed.
func (g *Gate) Release(p Peer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.admitted--
	g.limits.release(p.Cred.UID)
}

// NoFirstRequest logs, at most once a refusedLogInterval, a connection
// to socket that its server cut for sending no request within timeout.
func (g *Gate) NoFirstRequest(socket string, p Peer, timeout time.Duration) {
	g.mu.Lock()
	logIt, suppressed := g.cutLog.allow(time.Now())
	g.mu.Unlock()
	if logIt {
		g.log.Info("daemon: connection cut: no request in time", "uid", p.Cred.UID, "pid", p.PID,
			"timeout", timeout, "cut_since_last", suppressed, "socket", socket)
	}
}

// connections is how many connections the gate has admitted and not yet
// seen released.
func (g *Gate) connections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.admitted
}

// connsByUID is how many connections each uid holds, admitted and not
// yet released, for the uids that hold any; all of them if all, else
// uid's alone.
func (g *Gate) connsByUID(all bool, uid uint32) map[uint32]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !all {
		if n := g.limits.byUID[uid]; n > 0 {
			return map[uint32]int{uid: n}
		}
		return nil
	}
	return maps.Clone(g.limits.byUID)
}

// budget is how many connections ordinary uids may hold together.
func (g *Gate) budget() int { return g.limits.budget }

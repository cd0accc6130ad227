package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// DefaultQueueSize is how many records each connection's watch queue
// holds (notes): what a kernel program typically asks of a notification
// pipe (keyutils' `keyctl watch` asks for 256), which absorbs a burst of
// changes while the client is busy without holding much memory (32 KiB).
const DefaultQueueSize = 256

// DefaultDrainTimeout is how long a closing connection may take to write
// the replies it owes before it is cut: long enough for a client that is
// reading, short enough that one that is not cannot hold up Close.
const DefaultDrainTimeout = 5 * time.Second

// Options configure a Server. The zero value is usable.
type Options struct {
	// QueueSize is the number of notes in each connection's watch queue;
	// 0 means DefaultQueueSize. See watchqueue.Queue.SetSize for the range.
	QueueSize int
	// SendBuffer is each connection's socket send buffer (SO_SNDBUF), and
	// the size of its reply pipe (F_SETPIPE_SZ) once it is on pipes, in
	// bytes; 0 leaves the system's defaults. It is what a client that
	// stops reading can have in flight before its queue starts to fill.
	SendBuffer int
	// DrainTimeout bounds the writing of owed replies when a connection
	// closes; 0 means DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Private makes the server a user's own (a per-user daemon): it
	// serves only the uid it runs as, and root, and closes any other
	// connection as soon as it is accepted; Listen makes the socket 0600.
	// Without it every uid that reaches the socket is served (the system
	// daemon), each as the kernel says it is.
	Private bool
	// MaxConnsPerUID bounds the connections one uid may hold at once;
	// 0 means DefaultMaxConnsPerUID, a negative value no bound. Root and
	// the daemon's own uid are not bounded, and some descriptors are
	// kept for them that other uids cannot take (see reservedFDs).
	MaxConnsPerUID int
	// FirstRequestTimeout is how long a new connection has to send its
	// first whole request before it is closed; 0 means
	// DefaultFirstRequestTimeout.
	FirstRequestTimeout time.Duration
	// Logger receives the server's start and stop, the connections it
	// refuses or cuts (uid, pid, why), accept errors, and connection
	// errors; nil discards them.
	Logger *slog.Logger
}

// refusedLogInterval is how often a refused or cut connection is logged
// at most (per kind); those in between are counted in the next line.
const refusedLogInterval = time.Second

// Server serves a store on a Unix socket. Make one with Listen, run it
// with Serve, stop it with Close.
type Server struct {
	store *keyring.Store
	ln    *net.UnixListener
	path  string
	opts  Options
	log   *slog.Logger
	// started is when NewServer made the server: the daemon's uptime
	// (Status) counts from it.
	started time.Time

	// mu guards closed, conns, limits and the log limiters. Lock order:
	// mu before nothing; the connections never take it while holding
	// anything else.
	mu         sync.Mutex
	closed     bool
	limits     *connLimits
	refusedLog logLimiter // connections refused at accept
	cutLog     logLimiter // connections cut for sending no request
	// closing is closed, for connections to read without taking mu.
	closing atomic.Bool
	conns   map[*conn]struct{}
	done    chan struct{} // closed by Close, wakes Serve's backoff

	wg sync.WaitGroup // Serve and every connection's reader
}

// Listen binds a Unix socket at path for store, replacing a stale socket
// file that no daemon answers on and refusing (EADDRINUSE) one that a
// daemon does. The socket is made mode 0666, or 0600 with opts.Private:
// anyone who can reach it may connect (and, unless Private, be served),
// and is known by the credentials the kernel gives, not by what they
// claim. Who can reach it is the directory's business, the caller's (see
// PrepareSystemDirs, PrepareUserSocketDir).
func Listen(path string, store *keyring.Store, opts Options) (*Server, error) {
	ln, err := listen(path)
	if err != nil {
		return nil, err
	}
	mode := os.FileMode(0o666)
	if opts.Private {
		mode = 0o600
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("daemon: %w", err)
	}
	return NewServer(ln, store, opts), nil
}

// NewServer serves store on a listening socket made elsewhere: by systemd
// (see ActivationListener), or by a caller that set it up itself. Close
// closes ln; whether that removes the socket file is ln's business
// (net.UnixListener.SetUnlinkOnClose): one systemd made stays.
func NewServer(ln *net.UnixListener, store *keyring.Store, opts Options) *Server {
	if opts.QueueSize == 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.MaxConnsPerUID == 0 {
		opts.MaxConnsPerUID = DefaultMaxConnsPerUID
	}
	if opts.FirstRequestTimeout == 0 {
		opts.FirstRequestTimeout = DefaultFirstRequestTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Server{
		store:      store,
		ln:         ln,
		path:       ln.Addr().String(),
		opts:       opts,
		log:        log,
		started:    time.Now(),
		limits:     newConnLimits(opts.MaxConnsPerUID),
		refusedLog: logLimiter{interval: refusedLogInterval},
		cutLog:     logLimiter{interval: refusedLogInterval},
		conns:      make(map[*conn]struct{}),
		done:       make(chan struct{}),
	}
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

// Run serves until ctx is done, as a daemon does until SIGTERM, and then
// closes the server gracefully (see Close): the calls in flight finish
// and their replies go out, so that when Run returns every change a
// client saw acknowledged is committed, and the caller can close the
// store. It returns Serve's error, or Close's.
func (s *Server) Run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	select {
	case err := <-served:
		s.Close()
		return err
	case <-ctx.Done():
	}
	err := s.Close()
	return errors.Join(err, <-served)
}

// acceptBackoffMax is the longest Serve waits before accepting again
// after accept(2) failed: out of descriptors (EMFILE, ENFILE) it fails
// until connections close, and retrying sooner would only spin.
const acceptBackoffMax = time.Second

// Serve accepts connections until Close, and then returns nil.
func (s *Server) Serve() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	s.log.Info("daemon: serving", "socket", s.path, "private", s.opts.Private,
		"max_conns_per_uid", s.opts.MaxConnsPerUID, "conns_for_users", s.limits.budget)

	// A run of failed accepts is logged when it starts and when it ends,
	// not at every retry.
	var backoff time.Duration
	var failed int
	var failingSince time.Time
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of descriptors and the like pass; back off rather
			// than spin, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), acceptBackoffMax)
			if failed == 0 {
				failingSince = time.Now()
				s.log.Warn("daemon: accept failing, backing off", "err", err, "conns", s.connections())
			}
			failed++
			select {
			case <-time.After(backoff):
				continue
			case <-s.done:
				return nil
			}
		}
		if failed > 0 {
			s.log.Info("daemon: accepting again", "failed_accepts", failed, "after", time.Since(failingSince).Round(time.Millisecond))
			failed = 0
		}
		backoff = 0
		s.start(c)
	}
}

// connections is how many connections are being served.
func (s *Server) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// start admits a connection just accepted, registers it and starts its
// goroutines; unless the server is closing, or the connection's uid may
// not have it (Private, the limits), which closes it at once.
func (s *Server) start(uc *net.UnixConn) {
	p, err := peerOf(uc)
	if err != nil {
		s.log.Warn("daemon: peer credentials", "err", err)
		uc.Close()
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		uc.Close()
		return
	}
	var refused string
	if s.opts.Private && !s.limits.isExempt(p.Cred.UID) {
		refused = "a per-user daemon serves its own uid and root only"
	} else if why, ok := s.limits.admit(p.Cred.UID); !ok {
		refused = why
	}
	if refused != "" {
		logIt, suppressed := s.refusedLog.allow(time.Now())
		s.mu.Unlock()
		uc.Close()
		if logIt {
			s.log.Warn("daemon: connection refused", "uid", p.Cred.UID, "pid", p.PID, "reason", refused, "refused_since_last", suppressed)
		}
		return
	}
	s.mu.Unlock()

	if s.opts.SendBuffer > 0 {
		if err := uc.SetWriteBuffer(s.opts.SendBuffer); err != nil {
			s.log.Warn("daemon: SO_SNDBUF", "err", err)
		}
	}
	// Lifted by the first request (conn.firstRequest).
	uc.SetReadDeadline(time.Now().Add(s.opts.FirstRequestTimeout))
	c := newConn(s, uc, p)
	s.mu.Lock()
	if s.closed {
		s.limits.release(p.Cred.UID)
		s.mu.Unlock()
		uc.Close()
		c.proc.Release(context.Background())
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go c.serve()
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.limits.release(c.peer.Cred.UID)
	s.mu.Unlock()
}

// noFirstRequest logs, within refusedLogInterval, a connection cut for
// sending no request in time.
func (s *Server) noFirstRequest(p peerCred) {
	s.mu.Lock()
	logIt, suppressed := s.cutLog.allow(time.Now())
	s.mu.Unlock()
	if logIt {
		s.log.Info("daemon: connection cut: no request in time", "uid", p.Cred.UID, "pid", p.PID,
			"timeout", s.opts.FirstRequestTimeout, "cut_since_last", suppressed)
	}
}

// Close stops the server gracefully: it stops accepting, lets every
// connection finish the call it is in and write the replies it owes
// (within DrainTimeout), closes the connections, which removes their
// watches and releases their processes, and returns once every goroutine
// the server started has ended. The store stays open: close it after.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	s.closing.Store(true)
	close(s.done)
	err := s.ln.Close()
	// A read deadline in the past wakes a connection waiting for the next
	// request; closing stops one that is in a call from reading another.
	// The write deadline frees a connection stuck writing to a client that
	// reads nothing, replies or records.
	now := time.Now()
	for c := range s.conns {
		c.setDeadlines(now, s.opts.DrainTimeout)
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.log.Info("daemon: stopped", "socket", s.path)
	return err
}

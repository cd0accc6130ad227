//go:build linux

package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
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

// Server serves a store on a Unix socket. Make one with Listen, run it
// with Serve, stop it with Close.
type Server struct {
	store *keyring.Store
	ln    *net.UnixListener
	path  string
	opts  Options
	log   *slog.Logger
	gate  *Gate
	// started is when NewServer made the server: the daemon's uptime
	// (Status) counts from it.
	started time.Time

	// mu guards closed, conns and stopAccepting. Lock order: mu before
	// the gate's; the connections never take it while holding anything
	// else.
	mu     sync.Mutex
	closed bool
	// closing is closed, for connections to read without taking mu.
	closing atomic.Bool
	conns   map[*conn]struct{}
	// stopAccepting ends Serve's wait in Gate.Accept; Close calls it.
	stopAccepting context.CancelFunc

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
	ln, err := ListenSocket(path, opts.Private)
	if err != nil {
		return nil, err
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
	if opts.FirstRequestTimeout == 0 {
		opts.FirstRequestTimeout = DefaultFirstRequestTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Server{
		store:   store,
		ln:      ln,
		path:    ln.Addr().String(),
		opts:    opts,
		log:     log,
		started: time.Now(),
		gate:    NewGate(GateOptions{Private: opts.Private, MaxConnsPerUID: opts.MaxConnsPerUID, Logger: log}),
		conns:   make(map[*conn]struct{}),
	}
}

// Gate is the server's gate, for another server of the process to admit
// by (package kcm's Options.Gate), so that a uid's connections to either
// count together against Options.MaxConnsPerUID and the budget of
// descriptors, and Options.Private holds for both.
func (s *Server) Gate() *Gate { return s.gate }

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

// Serve accepts connections until Close, and then returns nil.
func (s *Server) Serve() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	s.stopAccepting = stop
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	s.log.Info("daemon: serving", "socket", s.path, "private", s.gate.Private(),
		"max_conns_per_uid", s.gate.perUID, "conns_for_users", s.gate.budget())
	for {
		c, p, err := s.gate.Accept(ctx, s.ln)
		if err != nil {
			// Closed: Accept retries everything else itself.
			return nil
		}
		s.start(c, p)
	}
}

// Connections is how many connections are being served now; each
// connection's watches end with it, so a server with none has no
// watches either.
func (s *Server) Connections() int { return s.connections() }

// connections is how many connections are being served.
func (s *Server) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// start registers a connection the gate admitted and starts its
// goroutines; unless the server is closing, which closes it at once.
func (s *Server) start(uc *net.UnixConn, p Peer) {
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
		s.mu.Unlock()
		s.gate.Release(p)
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
	s.mu.Unlock()
	s.gate.Release(c.peer)
}

// noFirstRequest logs, within the gate's rate, a connection cut for
// sending no request in time.
func (s *Server) noFirstRequest(p Peer) {
	s.gate.NoFirstRequest(s.path, p, s.opts.FirstRequestTimeout)
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
	if s.stopAccepting != nil {
		s.stopAccepting()
	}
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

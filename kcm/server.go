//go:build linux

package kcm

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/krb5ring"
)

// Limits, as sssd-kcm's defaults (sssd.conf's [kcm] section).
const (
	// DefaultMaxCaches is how many caches one uid may have
	// (max_uid_ccaches).
	DefaultMaxCaches = 64
	// DefaultMaxCacheBytes is how many bytes of credential records one
	// cache may hold (max_ccache_size, 65536 KiB).
	DefaultMaxCacheBytes = 64 << 20
	// DefaultDrainTimeout is how long Close lets a connection write the
	// reply it owes to a client that does not read it.
	DefaultDrainTimeout = 5 * time.Second
	// DefaultIdleTimeout is how long a connection may wait for its next
	// request, or take to send one, before it is closed: sssd-kcm's
	// client_idle_timeout. MIT's client reconnects when it finds the
	// connection closed (the write fails with EPIPE), so this only bounds
	// what an idle or slow client holds: a descriptor, and the part of a
	// request it sent.
	DefaultIdleTimeout = 60 * time.Second
)

// Options configure a Server. The zero value gives sssd-kcm's limits.
type Options struct {
	// MaxCaches is how many caches a uid may have; 0 means
	// DefaultMaxCaches. A kinit that would make one more fails with
	// KRB5_FCC_INTERNAL, as with sssd-kcm.
	MaxCaches int
	// MaxCacheBytes is how many bytes of credential records a cache may
	// hold; 0 means DefaultMaxCacheBytes. A STORE past it fails with
	// KRB5_FCC_INTERNAL, as with sssd-kcm, and changes nothing.
	MaxCacheBytes int64
	// MaxRequestSize bounds a request, in bytes; 0 means
	// DefaultMaxRequestSize. A longer one closes the connection unread.
	MaxRequestSize int
	// DrainTimeout bounds the writing of replies when the server closes;
	// 0 means DefaultDrainTimeout.
	DrainTimeout time.Duration
	// IdleTimeout bounds the wait for, and the reading of, each request
	// after the first; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// FirstRequestTimeout bounds the wait for, and the reading of, a new
	// connection's first request (or IdleTimeout, if shorter); 0 means
	// daemon.DefaultFirstRequestTimeout. MIT's client writes as soon as
	// it connects, so this cuts only connections opened to be held,
	// which MaxConnsPerUID would otherwise let one uid keep by the
	// hundred for IdleTimeout each.
	FirstRequestTimeout time.Duration
	// Private makes the server a user's own, as daemon.Options.Private
	// makes a per-user daemon: it serves only the uid it runs as, and
	// root, and hangs up on anyone else as soon as accepted, before
	// reading a byte, logging it. Without it every uid that reaches the
	// socket is served, in its own collection.
	Private bool
	// MaxConnsPerUID bounds the connections one uid may hold at once;
	// 0 means daemon.DefaultMaxConnsPerUID, a negative value no bound.
	// Root and the server's own uid are not bounded, and descriptors are
	// kept for them that other uids cannot take (see daemon.Gate).
	MaxConnsPerUID int
	// Gate, if set, admits the server's connections in place of one made
	// from Private and MaxConnsPerUID, which are then not used, and logs
	// refusals to its own logger: give it a daemon.Server's
	// (daemon.Server.Gate), and a uid's connections to the daemon and to
	// KCM count together, under the daemon's Private.
	Gate *daemon.Gate
	// Now is the clock credential timeouts are computed from; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives connection and store errors, and (unless Gate is
	// set) refused and cut connections; nil discards them.
	Logger *slog.Logger
}

// Server serves KCM requests on a Unix socket from a key store: the
// caches of each uid are its KEYRING collection in the store (see the
// package doc). Make one with NewServer or Listen, run it with Serve,
// stop it with Close.
type Server struct {
	store *keyring.Store
	opts  Options
	log   *slog.Logger
	rand  io.Reader
	ring  krb5ring.Options
	gate  *daemon.Gate

	// mu guards the fields below. Lock order: mu, then an account's mu;
	// mu, then the gate's.
	mu       sync.Mutex
	accounts map[uint32]*account
	// listeners are those Serve accepts on, each with what ends its
	// Serve's wait in Gate.Accept.
	listeners map[*net.UnixListener]context.CancelFunc
	conns     map[*conn]struct{}
	closed    bool

	wg sync.WaitGroup // Serve loops and connections
}

// NewServer returns a server for store. Serve it on listeners.
func NewServer(store *keyring.Store, opts Options) *Server {
	if opts.MaxCaches <= 0 {
		opts.MaxCaches = DefaultMaxCaches
	}
	if opts.MaxCacheBytes <= 0 {
		opts.MaxCacheBytes = DefaultMaxCacheBytes
	}
	if opts.MaxRequestSize <= 0 {
		opts.MaxRequestSize = DefaultMaxRequestSize
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.FirstRequestTimeout <= 0 {
		opts.FirstRequestTimeout = daemon.DefaultFirstRequestTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gate := opts.Gate
	if gate == nil {
		gate = daemon.NewGate(daemon.GateOptions{Private: opts.Private, MaxConnsPerUID: opts.MaxConnsPerUID, Logger: log})
	}
	return &Server{
		store:     store,
		opts:      opts,
		log:       log,
		rand:      randReader,
		ring:      krb5ring.Options{Now: opts.Now},
		gate:      gate,
		accounts:  make(map[uint32]*account),
		listeners: make(map[*net.UnixListener]context.CancelFunc),
		conns:     make(map[*conn]struct{}),
	}
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// Listen binds a Unix socket at path for Serve, as daemon.ListenSocket
// does: mode 0666 (every user may connect; each is known by the uid the
// kernel gives), or 0600 if private (the server's own uid and root, as
// Options.Private serves); a socket file that nobody answers on is
// replaced, and one that somebody does is refused (EADDRINUSE). Who may
// reach the path is its directory's business.
func Listen(path string, private bool) (*net.UnixListener, error) {
	return daemon.ListenSocket(path, private)
}

// Serve accepts connections on ln until Close, then returns nil. Each is
// admitted or refused by the server's gate (Options.Private,
// MaxConnsPerUID, Gate) and known by the uid SO_PEERCRED gives. Serve
// may run on several listeners at once.
func (s *Server) Serve(ln *net.UnixListener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	s.listeners[ln] = stop
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	socket := ln.Addr().String()
	for {
		uc, p, err := s.gate.Accept(ctx, ln)
		if err != nil {
			// Closed: the gate retries everything else itself.
			return nil
		}
		s.start(socket, uc, p)
	}
}

// start serves a connection the gate admitted in a goroutine of its own,
// unless the server is closing.
func (s *Server) start(socket string, uc *net.UnixConn, p daemon.Peer) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.gate.Release(p)
		uc.Close()
		return
	}
	a := s.accounts[p.Cred.UID]
	if a == nil {
		a = newAccount(s.store, p.Cred)
		s.accounts[p.Cred.UID] = a
	}
	c := &conn{srv: s, uc: uc, peer: p, socket: socket, acct: a}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go c.serve()
}

// closing reports whether Close has begun.
func (s *Server) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.gate.Release(c.peer)
}

// Close stops the server gracefully: it stops accepting, lets every
// connection finish the request it is serving and write its reply
// (within DrainTimeout), closes the connections, and returns once every
// goroutine the server started has ended. What each acknowledged request
// changed is in the store. The store stays open: close it after.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	var errs []error
	for ln, stop := range s.listeners {
		stop()
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	now := time.Now()
	for c := range s.conns {
		// Wakes a connection waiting for its next request; one in a
		// request finishes it, and its reply has DrainTimeout to go.
		c.uc.SetReadDeadline(now)
		c.uc.SetWriteDeadline(now.Add(s.opts.DrainTimeout))
	}
	s.mu.Unlock()
	s.wg.Wait()
	for _, a := range s.accounts {
		if err := a.release(context.Background()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// handle serves one request (its length prefix taken off) for the uid of
// a and returns the reply frame. It never fails: every error is a code in
// the reply.
func (s *Server) handle(ctx context.Context, a *account, frame []byte) []byte {
	req, err := DecodeRequest(frame)
	if err != nil {
		return failureFrame(CodeIO)
	}
	row := lookupOp(req.Op)
	if row == nil {
		return finishReply(appendReplyHeader(nil, CodeUnsupported))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out, err := s.run(ctx, a, row, req.Body)
	if err != nil {
		code := s.codeOf(err, a, row)
		return finishReply(appendReplyHeader(out[:0], code))
	}
	return finishReply(out)
}

// run serves a request, resolving the collection afresh and trying once
// more if the store says the one resolved is gone.
func (s *Server) run(ctx context.Context, a *account, row *operation, body []byte) ([]byte, error) {
	out, err := s.runOnce(ctx, a, row, body)
	if isStoreError(err) {
		a.col = nil
		out, err = s.runOnce(ctx, a, row, body)
	}
	return out, err
}

func (s *Server) runOnce(ctx context.Context, a *account, row *operation, body []byte) ([]byte, error) {
	now := s.now()
	c := &call{srv: s, acct: a}
	begin := func(col *krb5ring.Collection) {
		c.col, c.in = col, args{b: body}
		c.out = appendReplyHeader(c.out[:0], CodeOK)
	}
	if row.write || a.stale(now) {
		stale := a.stale(now)
		var opened *krb5ring.Collection
		// One transaction: the collection resolved, the operation's
		// checks and its change. It may run more than once (keyring's
		// Atomic), so it starts from the request each time.
		err := a.proc.Atomic(ctx, func(tx *keyring.Tx) error {
			col := opened
			if stale {
				var err error
				if col, err = krb5ring.Open(ctx, tx, a.name, s.ring); err != nil {
					return err
				}
				opened = col
			} else {
				col = a.col.With(tx)
			}
			begin(col)
			if row.write {
				return row.serve(c, ctx)
			}
			return nil
		})
		if err == nil && stale {
			a.col, a.opened = opened.With(a.proc), now
		}
		if err != nil || row.write {
			return c.out, err
		}
	}
	begin(a.col)
	return c.out, row.serve(c, ctx)
}

// codeOf is the reply code for err.
func (s *Server) codeOf(err error, a *account, row *operation) Code {
	var code Code
	switch {
	case errors.As(err, &code):
		return code
	case errors.Is(err, ErrMalformed):
		return CodeIO
	case errors.Is(err, krb5ring.ErrNotFound):
		return CodeNoFile
	case errors.Is(err, krb5ring.ErrCredNotFound):
		return CodeNotFound
	}
	s.log.Warn("kcm: operation failed", "op", row.name, "uid", a.uid, "err", err)
	return CodeInternal
}

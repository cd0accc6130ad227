//go:build linux

package keyctl

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// Caller is what Open returns: the store's operations (keyring.Caller),
// one watch queue (keyring.Watcher), and Close, the same whether the store
// is embedded or behind a daemon.
type Caller interface {
	keyring.Caller
	// The Caller's watches share one queue, made by the first Watch, of
	// Options.QueueSize records, filtered by Options.Filter. Records ends
	// after yielding ctx.Err() when ctx is done, after yielding the cause
	// if a daemon connection breaks, and quietly after Close. Records are
	// read in batches: breaking out of the loop drops the rest of the
	// batch, so break only when done with the watches.
	keyring.Watcher
	// KeepRevisions makes the Caller's queue keep revisions: every record
	// Records yields carries the store's revision (of the store and
	// history StoreID names, which Changes takes it on from), and a loss
	// record the revision of the last record before the gap. It must come before the
	// first Watch, which makes the queue (EBUSY after, unless the queue
	// keeps them already). A daemon too old to keep them answers
	// EOPNOTSUPP, and the queue does not.
	KeepRevisions(ctx context.Context) error
	// Route is how the Caller reached its store.
	Route() Route
	// Close ends the Caller: its watches, the sessions it joined, and
	// the connection or the store, which is then closed.
	Close() error
}

// remote is a Caller through a daemon. The connection's queue, in the
// daemon, is sized and filtered on the first Watch; a pump goroutine
// drains what it streams into a queue of the Caller's own of the same
// size, which Records reads. Records and replies share the connection,
// and a client that stops reading records stalls its own calls (see
// daemon.Client); the pump never stops reading, so a program that makes
// changes and reads its records later fills and loses in its own queue,
// as it would embedded, instead of hanging.
type remote struct {
	*daemon.Client
	route  Route
	size   int // 0: the daemon's
	filter *watchqueue.Filter

	mu        sync.Mutex // guards q, set, revisions, err
	q         *watchqueue.Queue
	set       bool  // the daemon's queue was sized and filtered
	revisions bool  // the daemon's queue keeps revisions, and so does q
	err       error // why the pump stopped, if the connection broke
	pumped    chan struct{}
}

func newRemote(c *daemon.Client, r Route, o Options) *remote {
	return &remote{Client: c, route: r, size: o.QueueSize, filter: o.Filter}
}

func (r *remote) Route() Route { return r.route }

func (r *remote) Watch(ctx context.Context, id keyring.Serial, tag int) error {
	if err := r.start(ctx); err != nil {
		return err
	}
	return r.Client.Watch(ctx, id, tag)
}

func (r *remote) KeepRevisions(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revisions {
		return nil
	}
	if r.q != nil {
		return fmt.Errorf("keyctl: keep revisions: the queue is made already: %w", unix.EBUSY)
	}
	if err := r.Client.KeepRevisions(ctx); err != nil {
		return err
	}
	r.revisions = true
	return nil
}

// start sizes and filters the daemon's queue, once, makes the local queue
// and starts the pump.
func (r *remote) start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.q != nil {
		return nil
	}
	size := r.size
	if size == 0 {
		size = daemon.DefaultQueueSize
	}
	q := watchqueue.New(watchqueue.Options{Revisions: r.revisions})
	if err := q.SetSize(size); err != nil {
		return err
	}
	if !r.set && (r.size != 0 || r.filter != nil) {
		if err := r.Client.SetWatchQueue(ctx, r.size, r.filter); err != nil {
			return err
		}
		r.set = true
	}
	r.q = q
	r.pumped = make(chan struct{})
	go r.pump(q)
	return nil
}

// pump moves the daemon's records into q until the connection closes.
func (r *remote) pump(q *watchqueue.Queue) {
	defer close(r.pumped)
	defer q.Close()
	var buf []byte
	for rec, err := range r.Client.Records(context.Background()) {
		if err != nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
			return
		}
		buf = rec.AppendBinary(buf[:0], false)
		q.Post(buf, rec.Header().Tag(), revision(rec))
	}
}

// revision is the revision rec carries, 0 from a queue that keeps none.
func revision(rec watchqueue.Record) uint64 {
	switch r := rec.(type) {
	case watchqueue.KeyNotification:
		return r.Revision
	case watchqueue.Removal:
		return r.Revision
	case watchqueue.Loss:
		return r.Revision
	case watchqueue.Raw:
		return r.Revision
	}
	return 0
}

func (r *remote) Records(ctx context.Context) iter.Seq2[watchqueue.Record, error] {
	return func(yield func(watchqueue.Record, error) bool) {
		if err := r.start(ctx); err != nil {
			yield(nil, err)
			return
		}
		for rec, err := range r.q.Records(ctx) {
			if !yield(rec, err) || err != nil {
				return
			}
		}
		// The queue closed: the connection broke, or Close.
		r.mu.Lock()
		err := r.err
		r.mu.Unlock()
		if err != nil {
			yield(nil, err)
		}
	}
}

// Close closes the connection, which ends the pump and, with it, the
// local queue.
func (r *remote) Close() error {
	err := r.Client.Close()
	r.mu.Lock()
	pumped := r.pumped
	r.mu.Unlock()
	if pumped != nil {
		<-pumped
	}
	return err
}

// embedded is a Caller on a store of its own: a Process, and a queue the
// Caller owns.
type embedded struct {
	*keyring.Process
	store  *keyring.Store
	route  Route
	size   int
	filter *watchqueue.Filter

	mu        sync.Mutex // guards q, revisions
	q         *watchqueue.Queue
	revisions bool // q keeps revisions, once made
}

func newEmbedded(s *keyring.Store, r Route, o Options) *embedded {
	cred := o.Cred
	if cred == nil {
		cred = perms.Current
	}
	size := o.QueueSize
	if size == 0 {
		size = daemon.DefaultQueueSize
	}
	return &embedded{Process: s.Process(cred()), store: s, route: r, size: size, filter: o.Filter}
}

func (e *embedded) Route() Route { return e.route }

// queue is the Caller's watch queue, made on first use as the daemon
// makes a connection's.
func (e *embedded) queue() (*watchqueue.Queue, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.q != nil {
		return e.q, nil
	}
	q := watchqueue.New(watchqueue.Options{Revisions: e.revisions})
	if err := q.SetSize(e.size); err != nil {
		return nil, err
	}
	if e.filter != nil {
		if err := q.SetFilter(e.filter); err != nil {
			return nil, err
		}
	}
	e.q = q
	return q, nil
}

func (e *embedded) KeepRevisions(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.q != nil && !e.q.Revisions() {
		return fmt.Errorf("keyctl: keep revisions: the queue is made already: %w", unix.EBUSY)
	}
	e.revisions = true
	return nil
}

func (e *embedded) Watch(ctx context.Context, id keyring.Serial, tag int) error {
	q, err := e.queue()
	if err != nil {
		return err
	}
	return e.Process.Watch(ctx, id, q, tag)
}

func (e *embedded) Records(ctx context.Context) iter.Seq2[watchqueue.Record, error] {
	q, err := e.queue()
	if err != nil {
		return func(yield func(watchqueue.Record, error) bool) { yield(nil, err) }
	}
	return q.Records(ctx)
}

// Close closes the queue (its watches go, its readers end), lets go of
// the process's keyrings and closes the store.
func (e *embedded) Close() error {
	e.mu.Lock()
	q := e.q
	e.mu.Unlock()
	var err error
	if q != nil {
		err = q.Close()
	}
	return errors.Join(err, e.Process.Release(context.Background()), e.store.Close())
}

// Store is the store an embedded Caller opened, for a program that must
// serve it to others while it holds it (as keyctl-go does to a
// request_key helper); nil for a Caller that goes through a daemon.
func Store(c Caller) *keyring.Store {
	if e, ok := c.(*embedded); ok {
		return e.store
	}
	return nil
}

// A *daemon.Client is a keyring.Watcher as it is: krb5ring and secrets
// watch through one.
var _ keyring.Watcher = (*daemon.Client)(nil)

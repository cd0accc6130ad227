package keyctl

import (
	"context"
	"errors"
	"iter"
	"sync"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// Caller is what Open returns: the store's operations (keyring.Caller),
// one watch queue, and Close, the same whether the store is embedded or
// behind a daemon.
type Caller interface {
	keyring.Caller
	// Watch sets a watch on id for the Caller's queue with tag 0..255
	// (KEYCTL_WATCH_KEY), or removes it with tag -1; see
	// keyring.Process.Watch for the errnos. The first Watch makes the
	// queue, of Options.QueueSize records, filtered by Options.Filter.
	Watch(ctx context.Context, id keyring.Serial, tag int) error
	// Records is an iterator over what the Caller's watches deliver, in
	// order, loss records included. It ends after yielding ctx.Err() when
	// ctx is done, after yielding the cause if a daemon connection
	// breaks, and quietly after Close. Records are read in batches:
	// breaking out of the loop drops the rest of the batch, so break only
	// when done with the watches.
	Records(ctx context.Context) iter.Seq2[watchqueue.Record, error]
	// Route is how the Caller reached its store.
	Route() Route
	// Close ends the Caller: its watches, the sessions it joined, and
	// the connection or the store, which is then closed.
	Close() error
}

// remote is a Caller through a daemon: the connection's queue is the
// daemon's, sized and filtered on the first Watch.
type remote struct {
	*daemon.Client
	route  Route
	size   int
	filter *watchqueue.Filter

	once   sync.Once
	setErr error
}

func newRemote(c *daemon.Client, r Route, o Options) *remote {
	return &remote{Client: c, route: r, size: o.QueueSize, filter: o.Filter}
}

func (r *remote) Route() Route { return r.route }

func (r *remote) Watch(ctx context.Context, id keyring.Serial, tag int) error {
	if r.size != 0 || r.filter != nil {
		r.once.Do(func() { r.setErr = r.Client.SetWatchQueue(ctx, r.size, r.filter) })
		if r.setErr != nil {
			return r.setErr
		}
	}
	return r.Client.Watch(ctx, id, tag)
}

// embedded is a Caller on a store of its own: a Process, and a queue the
// Caller owns.
type embedded struct {
	*keyring.Process
	store  *keyring.Store
	route  Route
	size   int
	filter *watchqueue.Filter

	mu sync.Mutex // guards q
	q  *watchqueue.Queue
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
	q := watchqueue.New(watchqueue.Options{})
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

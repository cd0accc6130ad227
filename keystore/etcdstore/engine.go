//go:build linux

package etcdstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// Options put a store in etcd: every host that opens it with the same
// cluster and prefix shares one key space. Give Open to
// keystore.Options.Engine.
type Options struct {
	// Endpoints are the cluster's client URLs or host:port pairs.
	Endpoints []string
	// Prefix names the store in the cluster: its rows are under
	// "<Prefix>/"; "" means DefaultPrefix.
	Prefix string
	// TLS, if set, is the client's TLS configuration (CA, and a client
	// certificate for --client-cert-auth).
	TLS *tls.Config
	// Username and Password log in to etcd's own auth, if set.
	Username, Password string
	// RequestTimeout bounds each request to etcd (a commit, a block of
	// rows); 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Client, if set, is used instead of a client made from the fields
	// above; the store does not close it.
	Client *clientv3.Client
}

// DefaultPrefix is the prefix of a store in etcd when none is given.
const DefaultPrefix = "keyctl-go"

// DefaultRequestTimeout bounds a request to etcd. A commit takes about a
// millisecond on a healthy cluster; an election after its leader dies
// takes one or two seconds, during which writes wait.
const DefaultRequestTimeout = 5 * time.Second

// maxAttempts bounds how many times an operation whose commit etcd
// refused (a row it read changed meanwhile) runs again.
const maxAttempts = 32

// engine is an open store in etcd: the client, the mirror the feed keeps,
// and the host's block of rows.
type engine struct {
	cli       *clientv3.Client
	ownClient bool
	prefix    string // "<Prefix>/"
	name      string // endpoints and prefix, for messages
	timeout   time.Duration
	m         *mirror
	alloc     rowAllocator
	eventsKey string // where this host's commits put their notifications
	feed      keystore.Feed

	stopFeed context.CancelFunc
	feedDone chan struct{}
}

// Open opens the store in etcd that o names, for keystore.Open
// (keystore.Options.Engine): it reads every row under the prefix and
// starts watching it, telling feed of every commit. The store closes it.
func (o Options) Open(feed keystore.Feed) (keystore.Engine, error) {
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	e := &engine{
		cli:     o.Client,
		prefix:  strings.TrimSuffix(prefix, "/") + "/",
		name:    "etcd " + strings.Join(o.Endpoints, ",") + " prefix " + prefix,
		timeout: o.RequestTimeout,
		m:       newMirror(),
		feed:    feed,
	}
	if e.timeout <= 0 {
		e.timeout = DefaultRequestTimeout
	}
	e.alloc.e = e
	e.eventsKey = e.prefix + "e/" + uuid.NewString()
	if e.cli == nil {
		cli, err := clientv3.New(clientv3.Config{
			Endpoints:   o.Endpoints,
			DialTimeout: e.timeout,
			TLS:         o.TLS,
			Username:    o.Username,
			Password:    o.Password,
			// A member stopped without closing its sockets is dropped
			// after DialKeepAliveTime+Timeout; grpc-go raises the time
			// to at least 10 s.
			DialKeepAliveTime:    10 * time.Second,
			DialKeepAliveTimeout: 2 * time.Second,
			Logger:               zap.NewNop(),
		})
		if err != nil {
			return nil, fmt.Errorf("etcdstore: open %s: %w", e.name, err)
		}
		e.cli, e.ownClient = cli, true
	}
	if err := e.load(); err != nil {
		if e.ownClient {
			e.cli.Close()
		}
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stopFeed, e.feedDone = cancel, make(chan struct{})
	go e.watch(ctx)
	return e, nil
}

func (e *engine) String() string { return e.name }

// load reads every row under the prefix into the mirror, at one revision.
func (e *engine) load() error {
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.prefix, clientv3.WithPrefix())
	if err != nil {
		return e.requestError("open", err)
	}
	m := newMirror()
	for _, kv := range resp.Kvs {
		m.set(e, string(kv.Key), kv.Value, kv.ModRevision)
	}
	m.rev = resp.Header.Revision
	e.m.mu.Lock()
	e.m.rev, e.m.buckets, e.m.stamps = m.rev, m.buckets, m.stamps
	e.m.mu.Unlock()
	e.m.advance(m.rev, true)
	return nil
}

// View runs fn on the mirror at its current revision.
func (e *engine) View(fn func(keystore.Rows) error) error {
	r := &rows{e: e}
	e.m.mu.RLock()
	defer e.m.mu.RUnlock()
	r.snap = e.m.rev
	return fn(r)
}

// Update runs fn on the mirror and commits what it wrote as one etcd
// transaction guarded by what it read; if etcd refuses it (another host
// changed something fn read), it waits for the mirror to see that change
// and runs fn again, up to maxAttempts times. It returns once the change
// is committed in etcd and this host's feed has delivered it.
func (e *engine) Update(ctx context.Context, fn func(keystore.Rows) error) error {
	synced := false
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil && attempt == 1 {
			return err
		}
		r := &rows{e: e, write: true, guards: map[string]int64{}, stamps: map[string]bool{}}
		e.m.mu.RLock()
		r.snap = e.m.rev
		err := fn(r)
		e.m.mu.RUnlock()
		if err != nil {
			// A refusal read from a copy that may be behind (a key another
			// host made a moment ago) is checked against etcd: if the copy
			// was behind, fn runs again on what etcd has. What succeeds
			// needs no such check: its guards are checked by the commit.
			if !synced {
				synced = true
				if e.Sync(ctx) == nil && e.revision() > r.snap {
					continue
				}
			}
			return err
		}
		if !r.changed() {
			return nil
		}
		cmps, ops := r.txn()
		// Once fn has run, the outcome is waited for whatever ctx says
		// (keystore.Engine): a change is never abandoned half-way.
		cctx, cancel := context.WithTimeout(context.Background(), e.timeout)
		resp, err := e.cli.Txn(cctx).If(cmps...).Then(ops...).Commit()
		cancel()
		if err != nil {
			return e.requestError("commit", err)
		}
		rev := resp.Header.Revision
		if !resp.Succeeded {
			if attempt == maxAttempts {
				return fmt.Errorf("%w: %d attempts (%s)", ErrContended, attempt, e.name)
			}
			// Run again once the mirror holds what beat us, after a pause
			// that grows, so that hosts racing for the same rows spread out.
			wctx, cancel := context.WithTimeout(context.Background(), e.timeout)
			err := e.m.await(wctx, rev, false)
			cancel()
			if err != nil {
				return fmt.Errorf("%w: this host's copy did not catch up with revision %d: %w", ErrUnavailable, rev, err)
			}
			time.Sleep(time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond))))
			continue
		}
		// Committed. The feed brings the commit back to this host too; the
		// operation returns once its notifications are delivered here, as
		// on a file (if the feed is cut off meanwhile, the change stands
		// and the wait ends with the request timeout).
		wctx, cancel := context.WithTimeout(context.Background(), e.timeout)
		e.m.await(wctx, rev, true)
		cancel()
		return nil
	}
}

// revision is the mirror's revision now.
func (e *engine) revision() int64 {
	e.m.mu.RLock()
	defer e.m.mu.RUnlock()
	return e.m.rev
}

// Sync waits until the mirror holds every change etcd had committed when
// it was called: a linearizable read tells etcd's revision, and a
// progress request has the watch confirm that it has sent everything up
// to it.
func (e *engine) Sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.prefix+"a")
	if err != nil {
		return e.requestError("sync", err)
	}
	rev := resp.Header.Revision
	if e.m.await(doneContext, rev, true) == nil {
		return nil
	}
	if err := e.cli.RequestProgress(clientv3.WithRequireLeader(ctx)); err != nil {
		return e.requestError("sync", err)
	}
	return e.m.await(ctx, rev, true)
}

// doneContext is a context that has ended: await with it only checks.
var doneContext = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// requestError tells what became of a request etcd did not answer.
func (e *engine) requestError(op string, err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrTooManyOps):
		return fmt.Errorf("etcdstore: %s on %s: the operation needs more rows than etcd takes in one transaction: raise etcd's --max-txn-ops: %w", op, e.name, unix.E2BIG)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s on %s: no answer in %v (unreachable, no leader, or a client certificate refused)", ErrUnavailable, op, e.name, e.timeout)
	}
	return fmt.Errorf("%w: %s on %s: %w", ErrUnavailable, op, e.name, err)
}

// Close stops the feed and the client.
func (e *engine) Close() error {
	e.stopFeed()
	<-e.feedDone
	e.m.stop(keystore.ErrClosed)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	e.cli.Delete(ctx, e.eventsKey) // best effort: the last notifications of this host
	cancel()
	if e.ownClient {
		return e.cli.Close()
	}
	return nil
}

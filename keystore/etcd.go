//go:build linux

package keystore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// EtcdOptions put a store in etcd instead of a file: every host that opens
// it with the same endpoints and prefix shares one key space (Options.Etcd).
type EtcdOptions struct {
	// Endpoints are the cluster's client URLs or host:port pairs.
	Endpoints []string
	// Prefix names the store in the cluster: its rows are under
	// "<Prefix>/"; "" means DefaultEtcdPrefix.
	Prefix string
	// TLS, if set, is the client's TLS configuration (CA, and a client
	// certificate for --client-cert-auth).
	TLS *tls.Config
	// Username and Password log in to etcd's own auth, if set.
	Username, Password string
	// RequestTimeout bounds each request to etcd (a commit, a block of
	// serials); 0 means DefaultEtcdRequestTimeout.
	RequestTimeout time.Duration
	// Client, if set, is used instead of a client made from the fields
	// above; the store does not close it.
	Client *clientv3.Client
}

// DefaultEtcdPrefix is the prefix of a store in etcd when none is given.
const DefaultEtcdPrefix = "keyctl-go"

// DefaultEtcdRequestTimeout bounds a request to etcd. A commit takes about
// a millisecond on a healthy cluster; an election after its leader dies
// takes one or two seconds, during which writes wait.
const DefaultEtcdRequestTimeout = 5 * time.Second

// etcdMaxAttempts bounds how many times an operation whose commit etcd
// refused (a row it read changed meanwhile) runs again.
const etcdMaxAttempts = 32

// etcdRowBlock is how many rows a host takes for new keys at a time
// (etcd_alloc below): a commit that takes them is one more round trip,
// once per this many new keys.
const etcdRowBlock = 256

// ErrEtcdUnavailable means etcd did not answer a write in time, or
// refused it for a reason other than a conflict: the change may or may
// not have been made. It unwraps to EIO. Reads go on from this host's
// copy.
var ErrEtcdUnavailable error = &errnoError{"keystore: etcd did not commit the change (it may or may not have been made)", unix.EIO}

// ErrContended means an operation's commit was refused etcdMaxAttempts
// times because other hosts kept changing what it read. It unwraps to
// EAGAIN.
var ErrContended error = &errnoError{"keystore: too much contention on the store in etcd", unix.EAGAIN}

// etcdEngine is the engine of a store kept in etcd (rows.go): the client,
// the mirror the feed keeps, and the host's block of rows.
type etcdEngine struct {
	cli       *clientv3.Client
	ownClient bool
	prefix    string // "<Prefix>/"
	name      string // endpoints and prefix, for messages
	timeout   time.Duration
	m         *mirror
	alloc     rowAllocator
	eventsKey string // where this host's commits put their notifications

	// writeMu makes one write transaction at a time on this host, as
	// bbolt does: the staging of volatile keys and of changes (DB) needs
	// it, and a second local writer would only conflict with the first.
	writeMu sync.Mutex

	stopFeed context.CancelFunc
	feedDone chan struct{}
}

// openEtcd opens, or creates, the store in etcd that opts.Etcd names.
func openEtcd(opts Options) (*DB, error) {
	eo := opts.Etcd
	prefix := eo.Prefix
	if prefix == "" {
		prefix = DefaultEtcdPrefix
	}
	e := &etcdEngine{
		cli:     eo.Client,
		prefix:  strings.TrimSuffix(prefix, "/") + "/",
		name:    "etcd " + strings.Join(eo.Endpoints, ",") + " prefix " + prefix,
		timeout: eo.RequestTimeout,
		m:       newMirror(),
	}
	if e.timeout <= 0 {
		e.timeout = DefaultEtcdRequestTimeout
	}
	e.alloc.e = e
	e.eventsKey = e.prefix + "e/" + uuid.NewString()
	if e.cli == nil {
		cli, err := clientv3.New(clientv3.Config{
			Endpoints:   eo.Endpoints,
			DialTimeout: e.timeout,
			TLS:         eo.TLS,
			Username:    eo.Username,
			Password:    eo.Password,
			// A member stopped without closing its sockets is dropped
			// after DialKeepAliveTime+Timeout; grpc-go raises the time
			// to at least 10 s.
			DialKeepAliveTime:    10 * time.Second,
			DialKeepAliveTimeout: 2 * time.Second,
			Logger:               zap.NewNop(),
		})
		if err != nil {
			return nil, fmt.Errorf("keystore: open %s: %w", e.name, err)
		}
		e.cli, e.ownClient = cli, true
	}
	db := &DB{path: e.name, shared: e}
	db.vol.Store(newVolatileState())
	if err := e.open(db, opts); err != nil {
		if e.ownClient {
			e.cli.Close()
		}
		if db.sealer != nil {
			db.sealer.Wipe()
		}
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stopFeed, e.feedDone = cancel, make(chan struct{})
	go e.feed(ctx, db)
	return db, nil
}

// open loads the mirror, creates the store's meta rows if there are none,
// and unwraps the data key with this host's key file or passphrase.
func (e *etcdEngine) open(db *DB, opts Options) error {
	if opts.Passphrase == nil && opts.KeyFile == "" {
		return fmt.Errorf("keystore: open %s: a store in etcd needs a key file (Options.KeyFile) or a passphrase: %w", e.name, unix.EINVAL)
	}
	if err := e.load(); err != nil {
		return err
	}
	if e.m.buckets[idMeta].items[string(metaSchema)].val == nil {
		if err := e.create(db, opts); err != nil {
			return err
		}
	}
	meta := etcdMeta{e: e}
	v, err := schemaVersion(meta)
	if err != nil {
		return openError(e.name, err)
	}
	if v != SchemaVersion {
		return fmt.Errorf("keystore: open %s: schema version %d, and this program knows %d: %w", e.name, v, SchemaVersion, unix.EPROTONOSUPPORT)
	}
	if err := db.loadUUID(meta); err != nil {
		return err
	}
	if err := db.unwrap(meta, opts); err != nil {
		if errors.Is(err, ErrWrongKey) {
			return fmt.Errorf("%w: this host's key does not unwrap the data key of the store in %s (UUID %s): give every host the key file, or the passphrase, of the host that created it", err, e.name, db.uuid)
		}
		return err
	}
	db.bindKeyFile()
	return db.loadPermutation(meta)
}

// load reads every row under the prefix into the mirror, at one revision.
func (e *etcdEngine) load() error {
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
	m.applied = m.rev
	m.delivered = m.rev
	e.m.mu.Lock()
	e.m.rev, e.m.buckets, e.m.stamps = m.rev, m.buckets, m.stamps
	e.m.mu.Unlock()
	e.m.advance(m.rev, true)
	return nil
}

// create makes the store's meta rows, unless another host makes them
// first, in which case it loads theirs.
func (e *etcdEngine) create(db *DB, opts Options) error {
	meta := etcdMeta{e: e, new: map[string][]byte{}}
	if err := db.createMeta(meta, opts); err != nil {
		return err
	}
	if err := putSchemaVersion(meta, SchemaVersion); err != nil {
		return err
	}
	var ops []clientv3.Op
	for k, v := range meta.new {
		if k == string(metaNextRow) || k == string(metaRevision) {
			continue // counted in etcd's own way (etcd_alloc, etcd's revision)
		}
		ops = append(ops, clientv3.OpPut(e.rowKey(idMeta, []byte(k)), string(v)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	schema := e.rowKey(idMeta, metaSchema)
	resp, err := e.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(schema), "=", 0)).Then(ops...).Commit()
	if err != nil {
		return e.requestError("create", err)
	}
	if !resp.Succeeded {
		// Another host made the store first: ours is dropped, theirs used.
		db.sealer.Wipe()
		db.sealer = nil
	}
	return e.load()
}

// etcdMeta is the meta bucket of a store in etcd, as open sees it: the
// mirror's rows, and the rows a store being created puts.
type etcdMeta struct {
	e   *etcdEngine
	new map[string][]byte
}

func (m etcdMeta) Get(k []byte) []byte {
	if v, ok := m.new[string(k)]; ok {
		return v
	}
	return m.e.m.buckets[idMeta].items[string(k)].val
}

func (m etcdMeta) Put(k, v []byte) error {
	m.new[string(k)] = v
	return nil
}

// view runs fn on the mirror at its current revision.
func (e *etcdEngine) view(db *DB, fn func(*Tx) error) error {
	r := &etcdRows{e: e}
	e.m.mu.RLock()
	defer e.m.mu.RUnlock()
	r.snap = e.m.rev
	return fn(&Tx{db: db, rows: r})
}

// update runs fn on the mirror and commits what it wrote as one etcd
// transaction guarded by what it read; if etcd refuses it (another host
// changed something fn read), it waits for the mirror to see that change
// and runs fn again, up to etcdMaxAttempts times. It returns once the
// change is committed in etcd and this host has delivered its
// notifications.
func (e *etcdEngine) update(ctx context.Context, db *DB, fn func(*Tx) error) error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	synced := false
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil && attempt == 1 {
			return err
		}
		r := &etcdRows{e: e, write: true, guards: map[string]int64{}, stamps: map[string]bool{}}
		e.m.mu.RLock()
		r.snap = e.m.rev
		err := fn(&Tx{db: db, rows: r})
		e.m.mu.RUnlock()
		if err != nil {
			db.afterTx()
			// A refusal read from a copy that may be behind (a key another
			// host made a moment ago) is checked against etcd: if the copy
			// was behind, fn runs again on what etcd has. What succeeds
			// needs no such check: its guards are checked by the commit.
			if !synced {
				synced = true
				if e.sync(ctx) == nil && e.revision() > r.snap {
					continue
				}
			}
			return err
		}
		if !r.changed() {
			r.committed(db)
			return nil
		}
		cmps, ops := r.txn()
		// Once fn has run, the outcome is waited for whatever ctx says
		// (DB.Update): a change is never abandoned half-way.
		cctx, cancel := context.WithTimeout(context.Background(), e.timeout)
		resp, err := e.cli.Txn(cctx).If(cmps...).Then(ops...).Commit()
		cancel()
		if err != nil {
			db.afterTx()
			return e.requestError("commit", err)
		}
		rev := resp.Header.Revision
		if !resp.Succeeded {
			db.afterTx()
			if attempt == etcdMaxAttempts {
				return fmt.Errorf("%w: %d attempts (%s)", ErrContended, attempt, e.name)
			}
			// Run again once the mirror holds what beat us, after a pause
			// that grows, so that hosts racing for the same rows spread out.
			wctx, cancel := context.WithTimeout(context.Background(), e.timeout)
			err := e.m.await(wctx, rev, false)
			cancel()
			if err != nil {
				return fmt.Errorf("%w: this host's copy did not catch up with revision %d: %w", ErrEtcdUnavailable, rev, err)
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
		r.committed(db)
		return nil
	}
}

// revision is the mirror's revision now.
func (e *etcdEngine) revision() int64 {
	e.m.mu.RLock()
	defer e.m.mu.RUnlock()
	return e.m.rev
}

// sync waits until the mirror holds every change etcd had committed when
// it was called: a linearizable read tells etcd's revision, and a
// progress request has the watch confirm that it has sent everything up
// to it.
func (e *etcdEngine) sync(ctx context.Context) error {
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

// Sync waits until this host's copy of a store in etcd holds every change
// etcd had committed when Sync was called, and their notifications are
// delivered: what a read then answers is linearizable. On a file it
// returns at once.
func (db *DB) Sync(ctx context.Context) error {
	if db.shared == nil {
		return nil
	}
	return db.shared.sync(ctx)
}

// committed runs what a committed transaction registered: the visible
// handlers (the volatile keys it staged), then the durable ones.
func (r *etcdRows) committed(db *DB) {
	for _, fn := range r.visible {
		fn()
	}
	db.afterTx()
	for _, fn := range r.durable {
		fn()
	}
}

// requestError tells what became of a request etcd did not answer.
func (e *etcdEngine) requestError(op string, err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrTooManyOps):
		return fmt.Errorf("keystore: %s on %s: the operation needs more rows than etcd takes in one transaction: raise etcd's --max-txn-ops: %w", op, e.name, unix.E2BIG)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s on %s: no answer in %v (unreachable, no leader, or a client certificate refused)", ErrEtcdUnavailable, op, e.name, e.timeout)
	}
	return fmt.Errorf("%w: %s on %s: %w", ErrEtcdUnavailable, op, e.name, err)
}

// close stops the feed and the client.
func (e *etcdEngine) close() error {
	e.stopFeed()
	<-e.feedDone
	e.m.stop(ErrClosed)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	e.cli.Delete(ctx, e.eventsKey) // best effort: the last notifications of this host
	cancel()
	if e.ownClient {
		return e.cli.Close()
	}
	return nil
}

// rowAllocator hands out rows for new keys from a block this host took
// from the store's counter row (P/a) by compare-and-swap, so that two
// hosts never offer the same row and new keys need no shared counter in
// their commits.
type rowAllocator struct {
	e        *etcdEngine
	mu       sync.Mutex
	next, to uint32 // the block: rows next..to-1 are this host's to offer
}

// offer offers the next row of the block, taking a new block when it is
// used up. A row offered is never offered again by this host until the
// counter wraps, even if the transaction did not take it or rolled back.
func (a *rowAllocator) offer() (uint32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.next >= a.to || !inSerialRange(a.next) {
		if err := a.take(); err != nil {
			return 0, err
		}
	}
	a.next++
	return a.next - 1, nil
}

// take takes the next block of rows from the counter row.
func (a *rowAllocator) take() error {
	key := a.e.prefix + "a"
	ctx, cancel := context.WithTimeout(context.Background(), a.e.timeout)
	defer cancel()
	for {
		resp, err := a.e.cli.Get(ctx, key)
		if err != nil {
			return a.e.requestError("take rows", err)
		}
		from, mod := uint32(MinSerial), int64(0)
		if len(resp.Kvs) == 1 && len(resp.Kvs[0].Value) == 4 {
			from, mod = be32(resp.Kvs[0].Value), resp.Kvs[0].ModRevision
		}
		to := from + etcdRowBlock
		if !inSerialRange(from) || !inSerialRange(to) {
			from, to = MinSerial, MinSerial+etcdRowBlock // wrapped: freed rows are offered again
		}
		t, err := a.e.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", mod)).
			Then(clientv3.OpPut(key, string(u32(to)))).Commit()
		if err != nil {
			return a.e.requestError("take rows", err)
		}
		if t.Succeeded {
			a.next, a.to = from, to
			return nil
		}
	}
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

//go:build linux

package keyring

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/notify"
	"github.com/keyctl-go/keyctl-go/perms"
)

// DefaultGCDelay is how long expired and revoked keys stay linked before
// the collector removes them (/proc/sys/kernel/keys/gc_delay).
const DefaultGCDelay = 300 * time.Second

// Quota is how much each owner may hold (/proc/sys/kernel/keys/maxkeys and
// friends). Root has its own, larger, limits.
type Quota struct {
	MaxKeys      uint32
	MaxBytes     uint32
	RootMaxKeys  uint32
	RootMaxBytes uint32
}

// DefaultQuota is the kernel's default quota.
var DefaultQuota = Quota{MaxKeys: 200, MaxBytes: 20000, RootMaxKeys: 1000000, RootMaxBytes: 25000000}

func (q Quota) limits(uid uint32) (keys, bytes uint32) {
	if uid == 0 {
		return q.RootMaxKeys, q.RootMaxBytes
	}
	return q.MaxKeys, q.MaxBytes
}

// Options configure a Store. The zero value gives the kernel's defaults and
// a store encrypted under a key file beside the database.
type Options struct {
	// Storage is how the file is opened: key file or passphrase, lock
	// timeout. See keystore.Options.
	Storage keystore.Options
	// Quota limits each owner; zero means DefaultQuota.
	Quota Quota
	// GCDelay is how long expired and revoked keys linger; 0 means
	// DefaultGCDelay.
	GCDelay time.Duration
	// WatchLimit is how many watches one user may hold; 0 means
	// notify.DefaultWatchLimit.
	WatchLimit int
	// Now is the clock; nil means time.Now. Tests inject one to expire keys.
	Now func() time.Time
	// Logger receives what the store does in the background (collection);
	// nil discards it.
	Logger *slog.Logger
	// NegativeTimeout is how long a key whose construction failed stays
	// negative; 0 means DefaultNegativeTimeout.
	NegativeTimeout time.Duration
	// ConstructionTimeout bounds a request_key construction: a key still
	// under construction then is negated; 0 means
	// DefaultConstructionTimeout.
	ConstructionTimeout time.Duration
	// Linearizable, on a store shared by hosts (keystore.Options.Etcd),
	// makes every read wait until this host's copy holds what etcd had
	// committed when the read began (Store.Sync): a round trip to etcd per
	// read. Without it reads answer from the copy, behind other hosts'
	// commits by the time one takes to reach this host. It means nothing
	// on a file.
	Linearizable bool
	// HistoryLen is how many of its latest changes the store remembers,
	// in memory, for Process.Changes; 0 means DefaultHistoryLen, and a
	// negative number none.
	HistoryLen int
}

// Store is an open key store: keys and keyrings with the kernel's
// semantics, kept in an encrypted bbolt file, posting every change to the
// watchers of the key it changed. Act on it through a Process.
type Store struct {
	db     *keystore.DB
	quota  Quota
	delay  time.Duration
	now    func() time.Time
	log    *slog.Logger
	policy *notify.Policy

	linearizable bool // Options.Linearizable

	cache *readCache // committed keys, for reads that need no transaction (cache.go)

	building            constructions // request_key constructions under way (construct.go)
	timersMu            sync.RWMutex  // held by deadline timers at work; Close takes it to wait for them
	negativeTimeout     time.Duration
	constructionTimeout time.Duration

	// mu guards watches, held, sessions and hist. Lock order: a caller's commit
	// (keystore's committer) may run post with mu taken; nothing holds mu
	// while waiting for a commit.
	mu       sync.Mutex
	watches  map[Serial]*notify.WatchList // keys someone watches
	held     map[Serial]int               // keys processes hold in memory (their sessions)
	sessions map[Serial]int               // of those, the ones held as a session (session.go)
	hist     *history                     // the latest changes, nil if none are kept (history.go)

	historyID uuid.UUID // made at Open: the history's identity (StoreID)

	closing   chan struct{} // closed by Close, to stop the collector
	wake      chan struct{} // a new expiry was committed: the collector looks again
	collected sync.WaitGroup
	closeOnce sync.Once
}

// Open opens the store at path, creating it if need be. See keystore.Open
// for what can go wrong.
func Open(path string, opts Options) (*Store, error) {
	db, err := keystore.Open(path, opts.Storage)
	if err != nil {
		return nil, err
	}
	s := &Store{
		db:       db,
		quota:    opts.Quota,
		delay:    opts.GCDelay,
		now:      opts.Now,
		log:      opts.Logger,
		policy:   notify.NewPolicy(notify.PolicyOptions{WatchLimit: opts.WatchLimit}),
		watches:  make(map[Serial]*notify.WatchList),
		held:     make(map[Serial]int),
		sessions: make(map[Serial]int),
		closing:  make(chan struct{}),
		wake:     make(chan struct{}, 1),
		cache:    newReadCache(),

		linearizable: opts.Linearizable && db.Shared(),

		negativeTimeout:     opts.NegativeTimeout,
		constructionTimeout: opts.ConstructionTimeout,
	}
	if s.negativeTimeout <= 0 {
		s.negativeTimeout = DefaultNegativeTimeout
	}
	if s.constructionTimeout <= 0 {
		s.constructionTimeout = DefaultConstructionTimeout
	}
	db.View(func(tx *keystore.Tx) error {
		s.cache.rev = tx.Revision()
		return nil
	})
	s.historyID = uuid.New()
	switch {
	case opts.HistoryLen == 0:
		s.hist = newHistory(DefaultHistoryLen, s.cache.rev)
	case opts.HistoryLen > 0:
		s.hist = newHistory(opts.HistoryLen, s.cache.rev)
	}
	db.OnChange(s.cache.apply)
	db.OnEvents(s.deliverShared)
	db.OnLoss(s.lose)
	db.OnPending(s.cache.setPending)
	db.OnChanging(s.cache.changing)
	if s.quota == (Quota{}) {
		s.quota = DefaultQuota
	}
	if s.delay <= 0 {
		s.delay = DefaultGCDelay
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// No process holds anything yet: keys that only processes held when
	// the store was last open are garbage now. Not so on a store shared by
	// hosts, whose other hosts' processes hold keys of their own.
	if !db.Shared() {
		if err := s.collectOrphans(context.Background()); err != nil {
			db.Close()
			return nil, err
		}
	}
	s.collected.Go(s.collector)
	return s, nil
}

// Close negates the keys still under construction, stops the collector
// and closes the store. Watch queues stay open;
// they receive nothing more. Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.timersMu.Lock() // no deadline timer at work from here on
		if err := s.abandonAll(context.Background()); err != nil {
			s.log.Warn("keyring: negating constructions as the store closes", "err", err)
		}
		s.timersMu.Unlock()
		s.collected.Wait()
	})
	return s.db.Close()
}

// Path is the store's database file, as Open was given it.
func (s *Store) Path() string { return s.db.Path() }

// Check verifies the store's consistency; see keystore.DB.Check.
func (s *Store) Check() error { return s.db.Check() }

// Process is a caller acting on the store: credentials, and the session
// keyring its keyutils-style special ids resolve through. It is the
// userspace stand-in for a task's cred. A Process is safe for concurrent
// use; create one per caller identity.
type Process struct {
	s    *Store
	cred perms.Cred

	mu      sync.Mutex
	session Serial // 0: none, so @s is the user-session keyring
	thread  Serial // 0 until made (process_keyrings.go)
	process Serial

	// authority is the request_key authority the process has assumed
	// (authority.go); nil for none.
	authority *construction

	createMu sync.Mutex // one maker of thread and process keyrings at a time
	cache    processCache

	// notInQuota: what this process stores is charged to no one (see
	// Store.ProcessNotInQuota).
	notInQuota bool
}

// Process returns a handle acting with cred, with no session keyring (so
// @s resolves to the user-session keyring, as in the kernel).
func (s *Store) Process(cred perms.Cred) *Process {
	return &Process{s: s, cred: cred.Clone()}
}

// ProcessNotInQuota is Process for a service that runs inside the
// store's own process and bounds what it stores with limits of its own,
// as the KCM server bounds Kerberos caches per uid: the keys it makes,
// and the payloads it writes into keys, are charged to nobody's quota,
// as the kernel's KEY_ALLOC_NOT_IN_QUOTA leaves the keys it makes for
// itself uncharged. The keys belong to cred's uid all the same, with the
// kernel's permissions.
//
// The charge follows the writer: when a quota-charged process updates
// such a key, the key becomes charged to its owner, checked against the
// quota, so a user cannot grow an uncharged key past what its quota
// allows; when an uncharged process updates a charged key, the charge is
// given back. Links are charged to the keyring's owner as always, for
// keyrings that are charged.
//
// It is not for clients: the daemon makes each connection's Process with
// Process, and nothing a client sends reaches this.
func (s *Store) ProcessNotInQuota(cred perms.Cred) *Process {
	p := s.Process(cred)
	p.notInQuota = true
	return p
}

// Cred is the process's credentials.
func (p *Process) Cred() perms.Cred { return p.cred.Clone() }

// Release lets go of what the process holds: its session keyring and its
// thread and process keyrings. Keys nothing else holds are collected. Keys
// it was building and never completed (CompleteRequest) are negated, as
// when a requester dies while its helper runs, and any authority it
// assumed is given up.
func (p *Process) Release(ctx context.Context) error {
	abandonErr := p.abandonBuilt(ctx)
	p.mu.Lock()
	p.authority = nil
	held := []Serial{p.session, p.process, p.thread}
	p.session, p.process, p.thread = 0, 0, 0
	p.mu.Unlock()
	p.cache.rootsChanged()
	p.s.leaveSession(held[0])
	var ids []Serial
	for _, id := range held {
		if id != 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return abandonErr
	}
	return errors.Join(abandonErr, p.s.release(ctx, ids...))
}

func (p *Process) sessionKeyring() Serial {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.session
}

// hold counts a process's in-memory hold on a key.
func (s *Store) hold(id Serial) {
	s.mu.Lock()
	s.held[id]++
	s.mu.Unlock()
}

// release drops holds and collects the keys nothing holds now.
func (s *Store) release(ctx context.Context, ids ...Serial) error {
	s.mu.Lock()
	for _, id := range ids {
		if s.held[id]--; s.held[id] <= 0 {
			delete(s.held, id)
		}
	}
	s.mu.Unlock()
	return s.collect(ctx, ids)
}

func (s *Store) isHeld(id Serial) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held[id] > 0
}

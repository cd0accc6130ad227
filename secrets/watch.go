//go:build linux

package secrets

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/eventwatch"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// AllServices asks Watch for the changes in every service of the user.
const AllServices = ""

// recordBuffer is how many records a Watch holds between reading them
// and handling them. Handling makes calls on the store (over the daemon,
// on the connection the records share), so records must keep being read
// meanwhile; past this many the Watch drops them and reports Lost, as a
// full queue would.
var recordBuffer = 1024

// Watch reports what changes in a service (or in all of them) as Events.
// The store, like the kernel, notifies only the watchers of the key that
// changed, so a Watch watches the service's keyring and every secret's key
// in it, adding and removing watches as secrets come and go: each costs a
// watch of the user's watch limit (keyring.Options.WatchLimit).
//
// Events are found by comparing what a keyring holds with what the Watch
// last saw, whenever a record says the keyring changed: changes undone
// before the Watch looks are not reported. Nothing is reported for what
// was there when the Watch began.
type Watch struct {
	st      *Store
	service string
	store   keyring.StoreID // whose revisions the events carry; zero if unknown
	src     watchSource

	cancel context.CancelFunc
	loop   *eventwatch.Loop[Event] // records in, events out

	// Below: only start and Events touch these.
	root     keyring.Serial // AllServices: the secrets keyring
	services map[string]*serviceState
	byRing   map[keyring.Serial]string
	byItem   map[keyring.Serial]itemRef
	dying    map[keyring.Serial]bool // revoked or invalidated: deleted, not expired
	// replayed is the revision WatchFrom replayed through: records up to
	// it tell of changes already reported.
	replayed uint64
}

type serviceState struct {
	ring  keyring.Serial
	items map[keyring.Serial]string // account by key
}

type itemRef struct{ service, account string }

// Watch starts watching service, or every service with AllServices. It
// makes the service's keyring (or the secrets keyring) if need be, so
// that the first secret stored is heard. Over the daemon, the Watch must
// be the only watcher on its connection. Close it when done.
func (s *Store) Watch(ctx context.Context, service string) (*Watch, error) {
	w, err := s.newWatch(ctx, service)
	if err != nil {
		return nil, err
	}
	if err := s.retry(func() error { return w.start(ctx) }); err != nil {
		w.Close()
		return nil, fmt.Errorf("secrets: watch %q: %w", service, err)
	}
	return w, nil
}

// newWatch makes a Watch that reads its source but watches nothing yet.
func (s *Store) newWatch(ctx context.Context, service string) (*Watch, error) {
	if service != AllServices {
		if err := checkService(service); err != nil {
			return nil, err
		}
	}
	// The StoreID scopes the revisions the Watch reports; a daemon too
	// old to say it has no history to give either (see Watch.Store).
	store, err := s.c.StoreID(ctx)
	if err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
		return nil, err
	}
	src, err := newWatchSource(ctx, s.c)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &Watch{
		st:       s,
		service:  service,
		store:    store,
		src:      src,
		cancel:   cancel,
		loop:     eventwatch.New[Event](recordBuffer),
		services: make(map[string]*serviceState),
		byRing:   make(map[keyring.Serial]string),
		byItem:   make(map[keyring.Serial]itemRef),
		dying:    make(map[keyring.Serial]bool),
	}
	// Reading starts before the first watch: over the daemon, records
	// that nobody reads would stall the calls that follow.
	go w.loop.Pump(w.src.records(pctx))
	return w, nil
}

func (w *Watch) start(ctx context.Context) error {
	if w.service == AllServices {
		root, err := w.st.rootRing(ctx, true)
		if err != nil {
			return err
		}
		w.root = root
		if err := w.src.watch(ctx, root); err != nil && !errors.Is(err, unix.EBUSY) {
			return err
		}
		return w.scanRoot(ctx, 0, true)
	}
	ring, err := w.st.serviceRing(ctx, w.service, true)
	if err != nil {
		return err
	}
	if err := w.addService(ctx, w.service, ring); err != nil {
		return err
	}
	return w.scanService(ctx, w.service, 0, 0, true)
}

// Store is the store, and the history of it, whose revisions the Watch's
// events carry (keyring.StoreID): a consumer that keeps an event's
// revision to resume from (WatchFrom) keeps this with it, since the
// revision means nothing in another store, or in the same store opened
// again. It is the zero StoreID over a daemon too old to say, whose
// events carry no revisions either.
func (w *Watch) Store() keyring.StoreID { return w.store }

// Close stops the Watch and ends its watches. Events returns once it has
// delivered what it had.
func (w *Watch) Close() {
	w.cancel()
	w.src.close()
	<-w.loop.Done()
}

// Events yields the changes as they happen, until ctx ends, the Watch is
// closed (no error), its source fails, or a watched service (or, for
// AllServices, the secrets keyring) is deleted, after that event.
func (w *Watch) Events(ctx context.Context) iter.Seq2[Event, error] {
	return w.loop.Events(ctx, w.handle, func(ctx context.Context) error { return w.resync(ctx, 0) }, func(err error) error {
		return fmt.Errorf("secrets: watch %q: %w", w.service, err)
	})
}

func (w *Watch) emit(k Kind, service, account string, rev uint64) {
	w.loop.Emit(Event{Kind: k, Service: service, Account: account, Revision: rev})
}

// handle turns one record into events.
func (w *Watch) handle(ctx context.Context, rec watchqueue.Record) error {
	switch r := rec.(type) {
	case watchqueue.KeyNotification:
		id, rev := keyring.Serial(r.KeyID), r.Revision
		if rev != 0 && rev <= w.replayed {
			return nil
		}
		ringChange := r.Subtype == watchqueue.KeyLinked || r.Subtype == watchqueue.KeyUnlinked || r.Subtype == watchqueue.KeyCleared
		switch {
		case id == w.root && w.root != 0:
			if ringChange {
				return w.scanRoot(ctx, rev, false)
			}
		case w.byRing[id] != "":
			if ringChange {
				return w.scanService(ctx, w.byRing[id], rev, 0, false)
			}
		default:
			ref, ok := w.byItem[id]
			if !ok {
				return nil
			}
			switch r.Subtype {
			case watchqueue.KeyUpdated:
				w.emit(Updated, ref.service, ref.account, rev)
			case watchqueue.KeyRevoked, watchqueue.KeyInvalidated:
				w.dying[id] = true
				return w.scanService(ctx, ref.service, rev, 0, false)
			}
		}
	case watchqueue.Removal:
		id, rev := keyring.Serial(r.ID), r.Revision
		if rev != 0 && rev <= w.replayed {
			return nil
		}
		switch {
		case id == w.root && w.root != 0:
			for _, name := range w.serviceNames() {
				w.dropService(name, rev)
			}
			w.loop.Finish()
		case w.byRing[id] != "":
			if w.service != AllServices {
				w.dropService(w.service, rev)
				w.loop.Finish()
				return nil
			}
			return w.scanRoot(ctx, rev, false)
		default:
			if ref, ok := w.byItem[id]; ok {
				// Destroyed while still in the keyring as last seen: the
				// collector took it, its links removed silently.
				return w.scanService(ctx, ref.service, rev, id, false)
			}
		}
	case watchqueue.Loss:
		return w.resync(ctx, r.Revision)
	}
	return nil
}

// resync reports a loss and reads everything again.
func (w *Watch) resync(ctx context.Context, rev uint64) error {
	w.emit(Lost, w.service, "", rev)
	if w.service == AllServices {
		if err := w.scanRoot(ctx, rev, false); err != nil {
			return err
		}
	}
	for _, name := range w.serviceNames() {
		if err := w.scanService(ctx, name, rev, 0, false); err != nil {
			return err
		}
	}
	return nil
}

func (w *Watch) serviceNames() []string {
	names := make([]string, 0, len(w.services))
	for name := range w.services {
		names = append(names, name)
	}
	return names
}

// scanRoot compares the services with what was last seen; quiet only
// records them (the first scan).
func (w *Watch) scanRoot(ctx context.Context, rev uint64, quiet bool) error {
	keys, err := w.st.c.Keys(ctx, w.root)
	if notFound(err) {
		return nil // the removal record will say so
	}
	if err != nil {
		return err
	}
	seen := make(map[string]bool)
	for _, id := range keys {
		if name := w.byRing[id]; name != "" {
			seen[name] = true
			continue
		}
		d, err := w.st.c.Describe(ctx, id)
		if notFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if d.Type != "keyring" {
			continue
		}
		if old := w.services[d.Description]; old != nil {
			// Deleted and made again since last seen.
			w.dropService(d.Description, rev)
		}
		seen[d.Description] = true
		if err := w.addService(ctx, d.Description, id); err != nil {
			return err
		}
		if !quiet {
			w.emit(ServiceCreated, d.Description, "", rev)
		}
		if err := w.scanService(ctx, d.Description, rev, 0, quiet); err != nil {
			return err
		}
	}
	for _, name := range w.serviceNames() {
		if !seen[name] {
			w.dropService(name, rev)
		}
	}
	return nil
}

// addService starts watching a service's keyring.
func (w *Watch) addService(ctx context.Context, name string, ring keyring.Serial) error {
	if err := w.watchKey(ctx, ring); err != nil {
		return err
	}
	w.services[name] = &serviceState{ring: ring, items: make(map[keyring.Serial]string)}
	w.byRing[ring] = name
	return nil
}

// dropService reports a service's secrets and the service itself gone.
func (w *Watch) dropService(name string, rev uint64) {
	st := w.services[name]
	if st == nil {
		return
	}
	for id, account := range st.items {
		w.emit(Deleted, name, account, rev)
		delete(w.byItem, id)
		delete(w.dying, id)
	}
	delete(w.byRing, st.ring)
	delete(w.services, name)
	w.emit(ServiceDeleted, name, "", rev)
}

// scanService compares a service's secrets with what was last seen,
// watching the new ones. expired is a key whose removal record brought
// this scan on: if it is gone, the collector took it.
func (w *Watch) scanService(ctx context.Context, name string, rev uint64, expired keyring.Serial, quiet bool) error {
	st := w.services[name]
	if st == nil {
		return nil
	}
	keys, err := w.st.c.Keys(ctx, st.ring)
	if notFound(err) {
		return nil // the removal record will say so
	}
	if err != nil {
		return err
	}
	seen := make(map[keyring.Serial]bool, len(keys))
	for _, id := range keys {
		if w.dying[id] {
			continue
		}
		if _, ok := st.items[id]; ok {
			seen[id] = true
			continue
		}
		d, err := w.st.c.Describe(ctx, id)
		if notFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if d.Type != itemType {
			continue
		}
		if err := w.watchKey(ctx, id); err != nil {
			if notFound(err) {
				continue
			}
			return err
		}
		seen[id] = true
		st.items[id] = d.Description
		w.byItem[id] = itemRef{name, d.Description}
		if !quiet {
			w.emit(Created, name, d.Description, rev)
		}
	}
	for id, account := range st.items {
		if seen[id] {
			continue
		}
		kind := Deleted
		if id == expired && !w.dying[id] {
			kind = Expired
		}
		w.emit(kind, name, account, rev)
		delete(st.items, id)
		delete(w.byItem, id)
		delete(w.dying, id)
		if id != expired {
			// It may live on elsewhere; its watch would count against
			// the user's limit until it died.
			w.src.unwatch(ctx, id)
		}
	}
	return nil
}

// watchKey sets a watch on id; one already set is no error.
func (w *Watch) watchKey(ctx context.Context, id keyring.Serial) error {
	err := w.src.watch(ctx, id)
	if err == nil || errors.Is(err, unix.EBUSY) {
		return nil
	}
	return fmt.Errorf("watch key %d: %w", id, err)
}

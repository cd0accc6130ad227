//go:build linux

package krb5ring

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/eventwatch"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// watchTag is the tag of every watch a Watch sets; records are told apart
// by the key they name.
const watchTag = 0

// recordBuffer is how many records a Watch holds between reading them
// from its keyring.Watcher and handling them. Handling makes calls on the store
// (over the daemon, on the connection the records share), so records must
// keep being read meanwhile or the connection stalls; past this many the
// Watch drops them and reports EventsLost, as a full queue would.
var recordBuffer = 256

// Watch reports the changes in one collection as Events: caches created,
// replaced, cleared and destroyed, primary switches, credentials
// stored, updated and removed. The kernel's (and the store's) notifications
// go only to watchers of the key that changed, so a Watch watches the
// collection keyring, the primary pointer, every cache keyring and every
// credential key, adding watches as caches and credentials appear.
//
// Events are found by comparing what the collection holds with what the
// Watch last saw, each time a record says a keyring changed: changes that
// are undone before the Watch looks are not reported, and several changes
// may be reported for one record. Nothing is reported for what was there
// when the Watch began.
type Watch struct {
	col *Collection
	src keyring.Watcher

	cancel context.CancelFunc
	loop   *eventwatch.Loop[Event] // records in, events out

	// Below: only Events touches these.
	primary string
	caches  map[string]*cacheState // by subsidiary name
	byRing  map[keyring.Serial]string
	byCred  map[keyring.Serial]credRef
	watched map[keyring.Serial]bool
}

// cacheState is what a Watch last saw of a cache.
type cacheState struct {
	ring  keyring.Serial
	creds map[string]keyring.Serial // by server principal
	order []string                  // the creds' descriptions, in keyring order
}

type credRef struct{ cache, desc string }

// Watch starts watching the collection through src: a *daemon.Client, or
// keyring.QueueWatcher for a store opened in this process. The watches
// live as long as src's queue (or daemon connection); Close stops reading
// them.
func (col *Collection) Watch(ctx context.Context, src keyring.Watcher) (*Watch, error) {
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	// A copy: the Watch runs beside whoever goes on using col.
	own := *col
	w := &Watch{
		col:     &own,
		src:     src,
		cancel:  cancel,
		loop:    eventwatch.New[Event](recordBuffer),
		caches:  make(map[string]*cacheState),
		byRing:  make(map[keyring.Serial]string),
		byCred:  make(map[keyring.Serial]credRef),
		watched: make(map[keyring.Serial]bool),
	}
	// Reading starts before the first watch: over the daemon, records
	// that nobody reads would stall the calls that follow.
	go w.loop.Pump(w.src.Records(pctx))
	err := w.start(ctx)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("krb5ring: watch %s: %w", col.name, err)
	}
	return w, nil
}

func (w *Watch) start(ctx context.Context) error {
	for _, id := range []keyring.Serial{w.col.ring, w.col.primary} {
		if err := w.watch(ctx, id); err != nil {
			return err
		}
	}
	p, err := w.col.Primary(ctx)
	if err != nil {
		return err
	}
	w.primary = p
	return w.scanCollection(ctx, true)
}

// Close stops the Watch. Events returns once it has delivered what it
// had.
func (w *Watch) Close() {
	w.cancel()
	<-w.loop.Done()
}

// Events yields the collection's changes as they happen, until ctx ends,
// the Watch is closed (no error), its source fails, or the collection is
// destroyed (after that event).
func (w *Watch) Events(ctx context.Context) iter.Seq2[Event, error] {
	return w.loop.Events(ctx, w.handle, w.resync, func(err error) error {
		return fmt.Errorf("krb5ring: watch %s: %w", w.col.name, err)
	})
}

func (w *Watch) emit(op Op, cache Name, server string) {
	w.loop.Emit(Event{Op: op, Cache: cache, Server: server})
}

// watch sets a watch on id unless one is set. A key that went away first
// is no error: the scan that follows finds it gone.
func (w *Watch) watch(ctx context.Context, id keyring.Serial) error {
	if w.watched[id] {
		return nil
	}
	err := w.src.Watch(ctx, id, watchTag)
	switch {
	case err == nil, errors.Is(err, unix.EBUSY):
		w.watched[id] = true
		return nil
	case vanished(err):
		return nil
	}
	return fmt.Errorf("watch key %d: %w", id, err)
}

// handle turns one record into events.
func (w *Watch) handle(ctx context.Context, rec watchqueue.Record) error {
	switch r := rec.(type) {
	case watchqueue.KeyNotification:
		id := keyring.Serial(r.KeyID)
		switch {
		case id == w.col.ring:
			switch r.Subtype {
			case watchqueue.KeyLinked, watchqueue.KeyUnlinked, watchqueue.KeyCleared:
				return w.scanCollection(ctx, false)
			}
		case id == w.col.primary:
			if r.Subtype == watchqueue.KeyUpdated || r.Subtype == watchqueue.KeyInstantiated {
				return w.checkPrimary(ctx)
			}
		default:
			if sub, ok := w.byRing[id]; ok {
				switch r.Subtype {
				case watchqueue.KeyCleared:
					// Emptied in this commit: what it held is gone, and
					// what comes next has records of its own.
					w.cleared(sub)
					w.emit(CacheCleared, w.col.name.Cache(sub), "")
					return nil
				case watchqueue.KeyLinked, watchqueue.KeyUnlinked:
					return w.scanCache(ctx, sub, scanNormal)
				}
			} else if c, ok := w.byCred[id]; ok && r.Subtype == watchqueue.KeyUpdated {
				w.emit(CredUpdated, w.col.name.Cache(c.cache), c.desc)
			}
		}
	case watchqueue.Removal:
		id := keyring.Serial(r.ID)
		delete(w.watched, id)
		switch {
		case id == w.col.ring:
			w.emit(CollectionDestroyed, w.col.name, "")
			w.loop.Finish()
		case id == w.col.primary:
			return w.scanCollection(ctx, false)
		default:
			if _, ok := w.byRing[id]; ok {
				return w.scanCollection(ctx, false)
			}
			if c, ok := w.byCred[id]; ok {
				delete(w.byCred, id)
				if _, ok := w.caches[c.cache]; ok {
					return w.scanCache(ctx, c.cache, scanNormal)
				}
			}
		}
	case watchqueue.Loss:
		return w.resync(ctx)
	}
	return nil
}

// resync reports a loss and reads the whole collection again.
func (w *Watch) resync(ctx context.Context) error {
	w.emit(EventsLost, w.col.name, "")
	if err := w.scanCollection(ctx, false); err != nil {
		return err
	}
	for _, sub := range w.sortedCaches() {
		if err := w.scanCache(ctx, sub, scanNormal); err != nil {
			return err
		}
	}
	return w.checkPrimary(ctx)
}

func (w *Watch) sortedCaches() []string {
	subs := make([]string, 0, len(w.caches))
	for sub := range w.caches {
		subs = append(subs, sub)
	}
	sort.Strings(subs)
	return subs
}

// checkPrimary reports a switch if the primary pointer names another
// cache than last seen.
func (w *Watch) checkPrimary(ctx context.Context) error {
	p, err := w.col.Primary(ctx)
	if err != nil {
		return err
	}
	if p != w.primary {
		w.primary = p
		w.emit(PrimarySwitched, w.col.name.Cache(p), "")
	}
	return nil
}

// scanCollection compares the collection's caches with what was last
// seen; quiet only records them (the first scan).
func (w *Watch) scanCollection(ctx context.Context, quiet bool) error {
	ms, err := members(ctx, w.col.c, w.col.ring)
	if vanished(err) {
		return nil // the removal record will say so
	}
	if err != nil {
		return err
	}
	seen := make(map[string]bool)
	for _, m := range ms {
		if m.typ == typeUser && m.desc == primaryKey && m.id != w.col.primary {
			// Made again after it went away.
			w.col.primary = m.id
			if err := w.watch(ctx, m.id); err != nil {
				return err
			}
			if err := w.checkPrimary(ctx); err != nil {
				return err
			}
			continue
		}
		if m.typ != typeKeyring {
			continue
		}
		seen[m.desc] = true
		st := w.caches[m.desc]
		mode := scanNormal
		switch {
		case st == nil:
			st = &cacheState{creds: make(map[string]keyring.Serial)}
			w.caches[m.desc] = st
			if !quiet {
				w.emit(CacheCreated, w.col.name.Cache(m.desc), "")
			}
		case st.ring != m.id:
			delete(w.byRing, st.ring)
			if !quiet {
				w.emit(CacheReplaced, w.col.name.Cache(m.desc), "")
			}
			mode = scanReplaced
		default:
			continue
		}
		if quiet {
			mode = scanQuiet
		}
		st.ring = m.id
		w.byRing[m.id] = m.desc
		if err := w.watch(ctx, m.id); err != nil {
			return err
		}
		if err := w.scanCache(ctx, m.desc, mode); err != nil {
			return err
		}
	}
	for _, sub := range w.sortedCaches() {
		if seen[sub] {
			continue
		}
		st := w.caches[sub]
		delete(w.caches, sub)
		delete(w.byRing, st.ring)
		for _, id := range st.creds {
			delete(w.byCred, id)
		}
		w.emit(CacheDestroyed, w.col.name.Cache(sub), "")
	}
	return nil
}

// cleared forgets a cache's credentials, which a clear took out.
func (w *Watch) cleared(sub string) {
	st := w.caches[sub]
	for _, id := range st.creds {
		delete(w.byCred, id)
	}
	st.creds, st.order = make(map[string]keyring.Serial), nil
}

// How scanCache reports what it finds.
type scanMode uint8

const (
	scanNormal   scanMode = iota // every difference
	scanQuiet                    // nothing: the first look
	scanReplaced                 // a new keyring: credentials added or gone, not re-made
)

// scanCache compares a cache's credential keys with what was last seen.
func (w *Watch) scanCache(ctx context.Context, sub string, mode scanMode) error {
	st := w.caches[sub]
	if st == nil {
		return nil
	}
	ms, err := members(ctx, w.col.c, st.ring)
	if vanished(err) {
		return nil // the collection's records will say so
	}
	if err != nil {
		return err
	}
	name := w.col.name.Cache(sub)
	now := make(map[string]keyring.Serial)
	var order []string
	for _, m := range ms {
		if !isCredKey(m) {
			continue
		}
		if _, dup := now[m.desc]; dup {
			continue // a user and a big_key for one server, for a moment
		}
		now[m.desc] = m.id
		order = append(order, m.desc)
		old, had := st.creds[m.desc]
		if had && old == m.id {
			continue
		}
		if had {
			delete(w.byCred, old)
		}
		w.byCred[m.id] = credRef{cache: sub, desc: m.desc}
		// Past the caller's watch limit, a credential goes unwatched:
		// only its in-place updates go unreported, not the rest.
		if err := w.watch(ctx, m.id); err != nil && !errors.Is(err, unix.EAGAIN) {
			return err
		}
		if mode == scanNormal || (mode == scanReplaced && !had) {
			w.emit(CredStored, name, m.desc)
		}
	}
	for _, desc := range st.order {
		id := st.creds[desc]
		if _, ok := now[desc]; ok {
			continue
		}
		delete(w.byCred, id)
		if mode != scanQuiet {
			w.emit(CredRemoved, name, desc)
		}
	}
	st.creds, st.order = now, order
	return nil
}

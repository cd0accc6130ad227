//go:build linux

package secrets

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// WatchFrom is Watch for a consumer that has seen every change up to
// revision rev of store (an Event's Revision, and the Store of the Watch
// that reported it) and wants the ones after it: a cache that went away
// for a while, a replica catching up. The changes committed after rev are
// reported first, with their revisions, from the history of changes the
// store keeps (keyring.Caller's Changes, embedded or through the daemon,
// which tells the caller only of keys it may view), then changes as they
// happen, as Watch reports them.
//
// When they cannot be replayed, the first event is Compacted, with
// Revision rev: the consumer lists the service again (List), and the
// events after it are changes from then on. That is so when store is not
// the store's StoreID now: another store (one deleted and made anew), or
// the same store opened again, whose history, kept in memory, starts
// then (a daemon restarted, a backup restored, whose revisions count anew
// from the backup's); when rev is older than the history reaches; over a
// daemon too old to give its history or revisions; and when what
// happened meanwhile cannot be told from the history alone: a service
// deleted or cleared, a secret collected by the store after it expired.
func (s *Store) WatchFrom(ctx context.Context, service string, store keyring.StoreID, rev uint64) (*Watch, error) {
	w, err := s.newWatch(ctx, service)
	if err != nil {
		return nil, err
	}
	err = s.retry(func() error { return w.startFrom(ctx, store, rev) })
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("secrets: watch %q from %d of store %v: %w", service, rev, store, err)
	}
	return w, nil
}

// errNoReplay says the changes since rev cannot be replayed.
var errNoReplay = errors.New("secrets: changes cannot be replayed")

// replayTries is how many times startFrom reads the service again to
// catch it between two changes before it gives up on replaying.
const replayTries = 8

// changes is the store's history after revision after, as the Watch's
// caller may see it.
func (w *Watch) changes(ctx context.Context, after uint64) ([]keyring.Change, uint64, error) {
	return w.st.c.Changes(ctx, w.store, after)
}

// unreplayable reports whether err says that the history cannot answer:
// it has forgotten, counts another store's changes, or is not kept (a
// daemon too old to give it).
func unreplayable(err error) bool {
	return errors.Is(err, keyring.ErrCompacted) || errors.Is(err, keyring.ErrOtherStore) || errors.Is(err, unix.EOPNOTSUPP)
}

func (w *Watch) startFrom(ctx context.Context, store keyring.StoreID, rev uint64) error {
	if store != w.store || w.store == (keyring.StoreID{}) || !w.src.revisions() {
		w.compacted(rev)
		return w.start(ctx)
	}
	// The state read must be the state at a known revision: the history's
	// newest is the same before and after reading it.
	var at uint64
	for try := 0; ; try++ {
		_, before, err := w.changes(ctx, ^uint64(0))
		if err != nil {
			if !unreplayable(err) {
				return err
			}
			w.compacted(rev)
			return w.start(ctx)
		}
		w.reset()
		if err := w.start(ctx); err != nil {
			return err
		}
		_, after, err := w.changes(ctx, ^uint64(0))
		if err == nil && after == before {
			at = after
			break
		}
		if try == replayTries {
			w.compacted(rev)
			return nil
		}
	}
	changes, _, err := w.changes(ctx, rev)
	if err != nil {
		if unreplayable(err) {
			w.compacted(rev)
			return nil
		}
		return err
	}
	for len(changes) > 0 && changes[len(changes)-1].Revision > at {
		changes = changes[:len(changes)-1] // the records bring these
	}
	now := w.snapshot()
	if err := w.undo(changes); err != nil {
		// The state at rev is not known: start from now.
		w.restore(now)
		w.compacted(rev)
		return nil
	}
	for _, c := range changes {
		w.apply(c)
	}
	w.replayed = at
	return nil
}

// compacted reports that the changes after rev are not replayed.
func (w *Watch) compacted(rev uint64) {
	w.loop.Emit(Event{Kind: Compacted, Service: w.service, Revision: rev})
}

// reset forgets what the Watch has seen (its watches stay).
func (w *Watch) reset() {
	clear(w.services)
	clear(w.byRing)
	clear(w.byItem)
	clear(w.dying)
	w.root = 0
}

// snapshot copies what the Watch has seen; restore puts it back.
func (w *Watch) snapshot() map[string]map[keyring.Serial]string {
	snap := make(map[string]map[keyring.Serial]string, len(w.services))
	for name, st := range w.services {
		items := make(map[keyring.Serial]string, len(st.items))
		for id, a := range st.items {
			items[id] = a
		}
		snap[name] = items
	}
	return snap
}

func (w *Watch) restore(snap map[string]map[keyring.Serial]string) {
	rings := make(map[string]keyring.Serial)
	for name, st := range w.services {
		rings[name] = st.ring
	}
	clear(w.services)
	clear(w.byRing)
	clear(w.byItem)
	for name, items := range snap {
		w.services[name] = &serviceState{ring: rings[name], items: items}
		w.byRing[rings[name]] = name
		for id, a := range items {
			w.byItem[id] = itemRef{name, a}
		}
	}
}

// undo takes what the Watch has seen back through changes, newest first,
// to what was there before them: secrets linked since are taken out,
// secrets unlinked since put back, with the names the history kept.
// What the history cannot undo is errNoReplay: a service deleted or
// cleared (which secrets went with it is not in the history), services
// made or deleted under a watch of all of them, a secret collected where
// it lay (which keyring held it is not either), a secret the caller may
// not view.
func (w *Watch) undo(changes []keyring.Change) error {
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		switch {
		case c.Destroyed:
			if c.KeyType == itemType && !unlinkedBefore(changes[:i], c.Key) {
				return errNoReplay
			}
			if c.KeyType == "keyring" && (w.service == AllServices || c.KeyDescription == w.service) {
				return errNoReplay
			}
		case c.Key == w.root && w.root != 0:
			switch c.Subtype {
			case watchqueue.KeyLinked, watchqueue.KeyUnlinked, watchqueue.KeyCleared:
				return errNoReplay
			}
		case w.byRing[c.Key] != "":
			name := w.byRing[c.Key]
			st := w.services[name]
			switch c.Subtype {
			case watchqueue.KeyCleared:
				return errNoReplay
			case watchqueue.KeyLinked:
				delete(st.items, c.Aux)
				delete(w.byItem, c.Aux)
			case watchqueue.KeyUnlinked:
				if c.AuxType == itemType {
					if c.AuxDescription == "" {
						return errNoReplay
					}
					st.items[c.Aux] = c.AuxDescription
					w.byItem[c.Aux] = itemRef{name, c.AuxDescription}
				}
			}
		}
	}
	return nil
}

// unlinkedBefore reports whether changes unlink key from somewhere.
func unlinkedBefore(changes []keyring.Change, key keyring.Serial) bool {
	for _, c := range changes {
		if !c.Destroyed && c.Subtype == watchqueue.KeyUnlinked && c.Aux == key {
			return true
		}
	}
	return false
}

// apply reports one change of the history and takes what the Watch has
// seen forward through it. Watches are not touched: the state the Watch
// read, and watches, were for the newest of the changes.
func (w *Watch) apply(c keyring.Change) {
	rev := c.Revision
	switch {
	case c.Destroyed:
		if ref, ok := w.byItem[c.Key]; ok {
			kind := Expired
			if w.dying[c.Key] {
				kind = Deleted
			}
			w.emit(kind, ref.service, ref.account, rev)
			w.dropItem(c.Key)
		}
	case w.byRing[c.Key] != "":
		name := w.byRing[c.Key]
		st := w.services[name]
		switch c.Subtype {
		case watchqueue.KeyLinked:
			if c.AuxType == itemType && c.AuxDescription != "" {
				if _, ok := st.items[c.Aux]; !ok {
					st.items[c.Aux] = c.AuxDescription
					w.byItem[c.Aux] = itemRef{name, c.AuxDescription}
					w.emit(Created, name, c.AuxDescription, rev)
				}
			}
		case watchqueue.KeyUnlinked:
			if ref, ok := w.byItem[c.Aux]; ok {
				w.emit(Deleted, ref.service, ref.account, rev)
				w.dropItem(c.Aux)
			}
		}
	default:
		if ref, ok := w.byItem[c.Key]; ok {
			switch c.Subtype {
			case watchqueue.KeyUpdated:
				w.emit(Updated, ref.service, ref.account, rev)
			case watchqueue.KeyRevoked, watchqueue.KeyInvalidated:
				w.dying[c.Key] = true
			}
		}
	}
}

func (w *Watch) dropItem(id keyring.Serial) {
	ref := w.byItem[id]
	if st := w.services[ref.service]; st != nil {
		delete(st.items, id)
	}
	delete(w.byItem, id)
	delete(w.dying, id)
}

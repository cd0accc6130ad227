//go:build linux

package keyring

import (
	"context"
	"time"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
)

// maxCollectorSleep bounds how long the collector sleeps, so that keys
// that expire while it sleeps are reaped at most this late.
const maxCollectorSleep = time.Minute

// Garbage collection. The kernel collects asynchronously; here a key that
// nothing holds any more (no link, no pin or registered user keyring, no
// process) is
// destroyed in the same transaction as the change that let go of it, so its
// quota is back as soon as that change is acknowledged. Expired and revoked
// keys keep their links until the GC delay has passed; Collect removes them
// then.

// sweep destroys the keys dropped during this operation that nothing holds.
func (t *txn) sweep() error {
	for len(t.dropped) > 0 {
		id := t.dropped[0]
		t.dropped = t.dropped[1:]
		r, err := t.tx.Key(uint32(id))
		if err != nil {
			return err
		}
		if r == nil || !t.unheld(r) {
			continue
		}
		if err := t.destroy(r); err != nil {
			return err
		}
	}
	return nil
}

// destroy removes r for good: its contents if it is a keyring, its charge,
// its record and payload. Its watchers get removal records after the commit.
func (t *txn) destroy(r *keystore.KeyRecord) error {
	if r.IsKeyring() {
		if err := t.clearKeyring(r); err != nil {
			return err
		}
	}
	if r.Flags&keystore.FlagInQuota != 0 {
		if err := t.applyQuota(charge{uid: r.UID, keys: -1, bytes: -int64(r.QuotaBytes)}); err != nil {
			return err
		}
	}
	// A named session goes with its name, which holds nothing alive.
	if r.IsKeyring() && t.tx.Name(keystore.NameSession, r.Description) == r.Serial {
		if err := t.tx.DeleteName(keystore.NameSession, r.Description); err != nil {
			return err
		}
	}
	if err := t.tx.DeleteKey(r); err != nil {
		return err
	}
	t.destroyed = append(t.destroyed, Serial(r.Serial))
	if t.s.hist != nil {
		t.destroyedNames = append(t.destroyedNames, keyName{typ: r.Type, desc: r.Description, subject: perms.Subject{UID: r.UID, GID: r.GID, Mask: perms.Mask(r.Perm)}})
	}
	return nil
}

// reap unlinks a dead key (invalidated, or expired or revoked for longer
// than the GC delay) from everything, unregisters it, and destroys it if no
// process holds it.
func (t *txn) reap(r *keystore.KeyRecord) error {
	// Unregister first: the last unlink below destroys r, after which it
	// must not be stored again.
	if r.Pins > 0 {
		for _, kind := range []keystore.NameKind{keystore.NameUser, keystore.NameUserSession, keystore.NamePersistent} {
			if t.tx.Name(kind, uidName(r.UID)) == r.Serial {
				if err := t.tx.DeleteName(kind, uidName(r.UID)); err != nil {
					return err
				}
			}
		}
		if t.tx.Name(keystore.NameSession, r.Description) == r.Serial {
			if err := t.tx.DeleteName(keystore.NameSession, r.Description); err != nil {
				return err
			}
		}
		r.Pins = 0
		if err := t.put(r); err != nil {
			return err
		}
	}
	if err := t.unlinkEverywhere(r); err != nil {
		return err
	}
	t.dropped = append(t.dropped, Serial(r.Serial)) // in case it had no links
	return nil
}

// Collect reaps keys whose expiry or revocation is older than the GC delay,
// as the kernel's key_garbage_collector does. Removing their links is
// silent; destroying them sends removal records to their watchers.
func (s *Store) Collect(ctx context.Context) error {
	p := &Process{s: s}
	return p.update(ctx, func(t *txn) error {
		cutoff := t.now - s.delay.Nanoseconds()
		var due []uint32
		for serial := range t.tx.ExpiringBefore(cutoff + 1) {
			due = append(due, serial)
		}
		for _, serial := range due {
			r, err := t.tx.Key(serial)
			if err != nil {
				return err
			}
			if r != nil {
				if err := t.reap(r); err != nil {
					return err
				}
			}
		}
		return t.sweep()
	})
}

// collect destroys ids if nothing holds them (a process let go of them).
func (s *Store) collect(ctx context.Context, ids []Serial) error {
	p := &Process{s: s}
	return p.update(ctx, func(t *txn) error {
		t.dropped = append(t.dropped, ids...)
		return t.sweep()
	})
}

// collectOrphans destroys every key nothing stored holds: at open, no
// process holds anything.
func (s *Store) collectOrphans(ctx context.Context) error {
	found := false
	s.db.View(func(tx *keystore.Tx) error {
		for range tx.Orphans() {
			found = true
			break
		}
		return nil
	})
	if !found {
		return nil // no commit, no fsync: opening stays cheap
	}
	p := &Process{s: s}
	return p.update(ctx, func(t *txn) error {
		for serial := range t.tx.Orphans() {
			t.dropped = append(t.dropped, Serial(serial))
		}
		return t.sweep()
	})
}

// collector reaps dead keys in the background until the store closes: it
// sleeps until the earliest expiry or revocation plus the GC delay, or
// maxCollectorSleep, then collects.
func (s *Store) collector() {
	for {
		wait := maxCollectorSleep
		if due, ok := s.nextDue(); ok {
			wait = min(max(due.Sub(s.now()), 10*time.Millisecond), maxCollectorSleep)
		}
		timer := time.NewTimer(wait)
		select {
		case <-s.closing:
			timer.Stop()
			return
		case <-s.wake:
			timer.Stop()
			continue
		case <-timer.C:
		}
		if due, ok := s.nextDue(); ok && !s.now().Before(due) {
			if err := s.Collect(context.Background()); err != nil {
				s.log.Warn("keyring: collecting dead keys", "err", err)
			}
		}
	}
}

// wakeCollector tells the collector a new expiry was committed.
func (s *Store) wakeCollector() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// nextDue is when the earliest expired or revoked key becomes collectable.
func (s *Store) nextDue() (time.Time, bool) {
	var due time.Time
	found := false
	s.db.View(func(tx *keystore.Tx) error {
		if at, ok := tx.EarliestExpiry(); ok {
			due, found = time.Unix(0, at).Add(s.delay), true
		}
		return nil
	})
	return due, found
}

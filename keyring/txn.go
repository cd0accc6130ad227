//go:build linux

package keyring

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// event is a notification an operation posts once it has committed, with
// the names of its keys when the store keeps a history (history.go).
type event struct {
	key              Serial
	sub              watchqueue.KeySubtype
	aux              uint32
	keyName, auxName keyName
}

// txn is one operation's view of the store: the storage transaction, the
// caller, the time the operation happens at, and what it will post.
type txn struct {
	tx             *keystore.Tx
	s              *Store
	p              *Process
	now            int64 // Unix nanoseconds
	events         []event
	destroyed      []Serial  // destroyed keys, whose watchers get removal records
	destroyedNames []keyName // their names, for the history
	dropped        []Serial  // keys that lost a holder: sweep destroys them if nothing holds them now
	write          bool
	roots          uint64                // a read's processCache.rootsGen, taken before it reckons possession
	expiring       bool                  // an expiry or revocation was set: wake the collector after the commit
	charged        []ownerUsage          // quota charges applied, written by flushQuota
	stored         []ownerUsage          // owners' usage as stored, read once per operation
	possessed      map[uint32]possession // possesses' answers (lookup.go)
	reach          *reach                // the keyrings possession looks in (lookup.go)
	requester      *txn                  // t as an assumed authority's requester (authority.go)
}

// post queues a notification for after the commit.
func (t *txn) post(key Serial, sub watchqueue.KeySubtype, aux Serial) {
	e := event{key: key, sub: sub, aux: uint32(aux)}
	if t.s.hist != nil {
		// Named now: the keys may be gone by the commit.
		e.keyName = t.name(key)
		if sub == watchqueue.KeyLinked || sub == watchqueue.KeyUnlinked {
			e.auxName = t.name(aux)
		}
	}
	t.events = append(t.events, e)
}

// update runs fn as one committed change. fn checks before it writes (see
// keystore.DB.Update). Its events are posted after the commit, in commit
// order, stamped with the store's revision; nothing is posted if it fails.
// An fn that meets a key under construction is run again once the key's
// construction has ended.
func (p *Process) update(ctx context.Context, fn func(t *txn) error) error {
	for {
		err := p.updateOnce(ctx, fn)
		if again, err := awaitConstruction(ctx, err); !again {
			return err
		}
	}
}

func (p *Process) updateOnce(ctx context.Context, fn func(t *txn) error) error {
	s := p.s
	return s.db.Update(ctx, func(tx *keystore.Tx) error {
		t := &txn{tx: tx, s: s, p: p, now: s.now().UnixNano(), write: true}
		if err := fn(t); err != nil {
			return err
		}
		if err := t.sweep(); err != nil {
			return err
		}
		if err := t.flushQuota(); err != nil {
			return err
		}
		rev, err := tx.NextRevision()
		if err != nil {
			return err
		}
		if t.expiring {
			tx.OnCommit(s.wakeCollector)
		}
		if len(t.events) > 0 || len(t.destroyed) > 0 {
			post := &posted{cred: p.cred, events: t.events, destroyed: t.destroyed, destroyedNames: t.destroyedNames}
			if s.db.Shared() {
				// A store shared by hosts carries them in the commit, and
				// the change feed delivers them on every host, this one
				// included, in revision order (deliverShared).
				tx.PutEvents(post.appendBinary(nil))
			} else {
				tx.OnCommit(func() { s.deliver(post, rev) })
			}
		}
		return nil
	})
}

// view runs fn against one consistent state, without changing it.
func (p *Process) view(fn func(t *txn) error) error {
	s := p.s
	return s.db.View(func(tx *keystore.Tx) error {
		return fn(&txn{tx: tx, s: s, p: p, now: s.now().UnixNano(), roots: p.cache.rootsGen()})
	})
}

// deliver posts committed events to the watchers of the keys they concern,
// then ends the watches on destroyed keys with removal records.
func (s *Store) deliver(post *posted, rev uint64) {
	events, destroyed, names, cred := post.events, post.destroyed, post.destroyedNames, post.cred
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hist != nil {
		s.record(events, destroyed, names, rev)
	}
	var buf [16]byte
	for _, e := range events {
		l := s.watches[e.key]
		if l == nil {
			continue
		}
		rec := watchqueue.KeyNotification{Subtype: e.sub, KeyID: uint32(e.key), Aux: e.aux}.AppendBinary(buf[:0], false)
		l.Post(rec, cred, rev)
	}
	for _, id := range destroyed {
		if l := s.watches[id]; l != nil {
			l.Destroy(rev)
			delete(s.watches, id)
		}
	}
}

// key loads a key's record; a missing key is ENOKEY.
func (t *txn) key(id Serial) (*keystore.KeyRecord, error) {
	if id <= 0 {
		return nil, fmt.Errorf("keyring: key %v: %w", id, unix.ENOKEY)
	}
	r, err := t.tx.Key(uint32(id))
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("keyring: key %d does not exist: %w", id, unix.ENOKEY)
	}
	return r, nil
}

// put stores a changed record.
func (t *txn) put(r *keystore.KeyRecord) error { return t.tx.PutKey(r) }

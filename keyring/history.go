//go:build linux

package keyring

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// DefaultHistoryLen is how many changes a Store remembers for Changes
// unless Options.HistoryLen says otherwise: at a few hundred bytes each,
// about a megabyte, and a consumer away for less than that many changes
// catches up without reading everything again.
const DefaultHistoryLen = 4096

// ErrCompacted means Changes was asked for changes older than the store
// remembers (or made before it was opened). It unwraps to ESTALE.
var ErrCompacted error = &compactedError{}

type compactedError struct{}

func (*compactedError) Error() string { return "keyring: changes compacted" }
func (*compactedError) Unwrap() error { return unix.ESTALE }

// ErrOtherStore means Changes was asked for changes after a revision of
// another store than this one (see Store.UUID): the revision counts that
// store's changes, not these, and nothing can be said of what changed
// since. It unwraps to ESTALE, as ErrCompacted does, and asks the same of
// the caller: read afresh what it needs.
var ErrOtherStore error = &otherStoreError{}

type otherStoreError struct{}

func (*otherStoreError) Error() string { return "keyring: a revision of another store" }
func (*otherStoreError) Unwrap() error { return unix.ESTALE }

// Change is one notification the store posted, with the names of the
// keys it concerned as they were when it was committed, so that a key
// unlinked and destroyed since still has one.
type Change struct {
	// Revision is the store's revision once the change committed; the
	// changes of one commit share it.
	Revision uint64
	// Key is the key the notification was posted on; Subtype and Aux are
	// the notification's (Aux: the key linked or unlinked).
	Key     Serial
	Subtype watchqueue.KeySubtype
	Aux     Serial
	// Destroyed says Key was destroyed: its watchers got a removal
	// record. Subtype and Aux mean nothing then.
	Destroyed bool
	// KeyType and KeyDescription name Key; AuxType and AuxDescription name
	// Aux, if the caller of Changes may view it.
	KeyType, KeyDescription string
	AuxType, AuxDescription string

	key, aux perms.Subject // owners and masks, for Changes' View checks
}

// keyName is what a Change remembers of a key.
type keyName struct {
	typ, desc string
	subject   perms.Subject
}

// history is a ring of the latest changes. It is guarded by Store.mu and
// written by deliver, in commit order. The ring grows as changes come, up
// to size: a command that opens the store for one read makes none, and
// should not clear a megabyte for them.
type history struct {
	ring    []Change
	size    int    // how many changes the ring holds at most
	next    int    // where the next change goes: len(ring) until it is full
	full    bool   // ring has wrapped
	dropped uint64 // revision of the newest change overwritten: older ones are gone
	current uint64 // revision of the newest change delivered
}

func newHistory(n int, rev uint64) *history {
	// Nothing from before the store opened is known: a caller asking for
	// it is told so.
	return &history{size: n, dropped: rev, current: rev}
}

func (h *history) add(c Change) {
	if !h.full {
		h.ring = append(h.ring, c)
		h.next = len(h.ring)
		if h.next == h.size {
			h.next, h.full = 0, true
		}
	} else {
		h.dropped = h.ring[h.next].Revision
		h.ring[h.next] = c
		h.next = (h.next + 1) % h.size
	}
	h.current = c.Revision
}

// name looks up what a Change remembers of a key, inside the transaction
// that changes it: a key this transaction destroyed before posting about
// it (an unlink that let go of it) is named as it was.
func (t *txn) name(id Serial) keyName {
	if id <= 0 {
		return keyName{}
	}
	r, err := t.tx.Key(uint32(id))
	if err != nil || r == nil {
		if i := slices.Index(t.destroyed, id); i >= 0 && i < len(t.destroyedNames) {
			return t.destroyedNames[i]
		}
		return keyName{}
	}
	return keyName{typ: r.Type, desc: r.Description, subject: perms.Subject{UID: r.UID, GID: r.GID, Mask: perms.Mask(r.Perm)}}
}

// record adds a commit's changes to the history; deliver calls it with
// Store.mu held.
func (s *Store) record(events []event, destroyed []Serial, names []keyName, rev uint64) {
	h := s.hist
	for _, e := range events {
		h.add(Change{Revision: rev, Key: e.key, Subtype: e.sub, Aux: Serial(e.aux),
			KeyType: e.keyName.typ, KeyDescription: e.keyName.desc, key: e.keyName.subject,
			AuxType: e.auxName.typ, AuxDescription: e.auxName.desc, aux: e.auxName.subject})
	}
	for i, id := range destroyed {
		n := names[i]
		h.add(Change{Revision: rev, Key: id, Destroyed: true, KeyType: n.typ, KeyDescription: n.desc, key: n.subject})
	}
}

// Changes returns the changes committed after revision after of the
// store and history from names (the StoreID the caller had with the
// revision), in commit order, and the revision they reach (the latest
// change the store posted). A change is returned if the caller may View
// its key as the change left it (the kernel asks the same of a watcher
// when it posts); the name of its Aux only if the caller may View that
// key too. after is an Event's or a record's revision, or a revision
// Changes returned.
//
// A revision means something only in the history that counted it:
// from.UUID other than the store's (uuid.Nil included) is ErrOtherStore,
// whatever after is, so that a revision kept from a store since deleted
// and made anew is never read as one of this store's; from.History other
// than this opening's is ErrCompacted, since that history is gone, and a
// revision from it may be one this opening counted anew (a backup
// restored). The store remembers its latest Options.HistoryLen changes,
// in memory: asking for changes it no longer has, or that were made
// before it was opened, is ErrCompacted too. On an error the revision
// returned is 0.
func (p *Process) Changes(ctx context.Context, from StoreID, after uint64) ([]Change, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s := p.s
	switch id := s.ID(); {
	case from.UUID != id.UUID:
		return nil, 0, fmt.Errorf("keyring: changes after %d of store %v, asked of store %v: %w", after, from.UUID, id.UUID, ErrOtherStore)
	case from.History != id.History:
		return nil, 0, fmt.Errorf("keyring: changes after %d of history %v of store %v, which has opened since (history %v): %w", after, from.History, id.UUID, id.History, ErrCompacted)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hist
	if h == nil {
		return nil, 0, fmt.Errorf("keyring: changes after %d: the store keeps no history: %w", after, ErrCompacted)
	}
	if after < h.dropped {
		return nil, 0, fmt.Errorf("keyring: changes after %d: the history starts after %d: %w", after, h.dropped, ErrCompacted)
	}
	var out []Change
	visit := func(c Change) {
		if c.Revision <= after || perms.Check(p.cred, c.key, false, perms.View) != nil {
			return
		}
		if c.AuxDescription != "" && perms.Check(p.cred, c.aux, false, perms.View) != nil {
			c.AuxType, c.AuxDescription = "", ""
		}
		out = append(out, c)
	}
	if h.full {
		for _, c := range h.ring[h.next:] {
			visit(c)
		}
	}
	for _, c := range h.ring[:h.next] {
		visit(c)
	}
	return out, h.current, nil
}

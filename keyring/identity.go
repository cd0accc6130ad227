//go:build linux

package keyring

import (
	"context"

	"github.com/google/uuid"
)

// UUID is the store's identity (keystore.DB.UUID): made when the store
// was created, or upgraded to have one, and kept for its life. A copy of
// the store's files keeps it (see keystore's package doc), so two stores
// of one UUID are one store, or copies of it at different revisions.
func (s *Store) UUID() uuid.UUID { return s.db.UUID() }

// StoreID says which store a revision is of, and which of its histories
// can take a consumer on from it (Changes): the two UUIDs a consumer keeps
// with every revision it keeps.
//
// The revisions that notifications carry, on queues that keep them
// (watchqueue.Options.Revisions), count the store's commits, and a
// revision, a loss record's included, means something only together with
// its StoreID. UUID tells one store from another: a store deleted and
// made anew at the same path has a new one. History tells one opening of
// a store from another: the history that Changes answers from is kept in
// memory, from the store's opening, and a store reopened from a backup,
// which has its UUID and an older revision, counts anew from there, so
// that the revisions a consumer was given before are not its own. A
// consumer that reconnects and finds another StoreID reads what it needs
// afresh instead of asking what changed since; Changes refuses its
// revision anyway (ErrOtherStore, ErrCompacted).
type StoreID struct {
	UUID    uuid.UUID // the store's, for its life (Store.UUID)
	History uuid.UUID // made each time the store is opened: the history's
}

func (id StoreID) String() string { return id.UUID.String() + " (history " + id.History.String() + ")" }

// ID is the store's identity and its history's: see StoreID.
func (s *Store) ID() StoreID { return StoreID{UUID: s.UUID(), History: s.historyID} }

// StoreID is the StoreID of the store p acts on (Store.ID), which scopes
// the revisions p's watches and Changes report. Over the daemon it is
// the daemon's store's, asked of the daemon (Caller.StoreID).
func (p *Process) StoreID(ctx context.Context) (StoreID, error) {
	if err := ctx.Err(); err != nil {
		return StoreID{}, err
	}
	return p.s.ID(), nil
}

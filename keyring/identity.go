//go:build linux

package keyring

import "github.com/google/uuid"

// UUID is the store's identity (keystore.DB.UUID): made when the store
// was created, or upgraded to have one, and kept for its life.
//
// The revisions that notifications carry, on queues that keep them
// (watchqueue.Options.Revisions), count this store's changes, and a
// revision, a loss record's included, means something only together with
// this UUID. A client that remembers a revision remembers the UUID with
// it, and treats a revision under another UUID, as after the store was
// deleted and made anew at the same path, as one of a store it knows
// nothing of: it reads what it needs afresh instead of asking what
// changed since. A copy of the store's files keeps the UUID (see
// keystore's package doc).
func (s *Store) UUID() uuid.UUID { return s.db.UUID() }

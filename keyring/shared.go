//go:build linux

package keyring

import (
	"context"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// A store shared by hosts (keystore.Options.Etcd) delivers every commit's
// notifications from the change feed, on every host, the writer's
// included (txn.go), and is told when the feed lost changes.

// deliverShared posts a commit's notifications, as the writer encoded
// them, with the commit's revision.
func (s *Store) deliverShared(rev uint64, b []byte) {
	post, err := decodePosted(b)
	if err != nil {
		s.log.Warn("keyring: notifications of a commit dropped", "revision", rev, "err", err)
		s.lose(rev-1, rev)
		return
	}
	s.deliver(post, rev)
	s.wakeCollector() // the commit may have set an expiry
}

// lose tells every watcher on this host that the notifications after
// revision last were lost (the change feed resumed past changes etcd had
// compacted away), up to revision now: each queue gets a loss record, as
// when it overflows, never a silent gap. The history starts again at now.
func (s *Store) lose(last, now uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hist != nil {
		*s.hist = *newHistory(s.hist.size, now)
	}
	var buf [watchqueue.MaxRecordSize]byte
	rec := watchqueue.Loss{}.AppendBinary(buf[:0], false)
	for _, l := range s.watches {
		l.PostLoss(rec, last)
	}
	s.wakeCollector()
}

// Sync waits until this host's copy of a store shared by hosts holds
// every change committed anywhere before Sync was called, with its
// notifications delivered here; on a store of one host it returns at
// once. Reads answer from the copy, which is behind by the time a commit
// takes to reach this host (docs/etcd.md); Sync first makes the next read
// linearizable, as Options.Linearizable does for every read.
func (s *Store) Sync(ctx context.Context) error { return s.db.Sync(ctx) }

// fresh makes a read linearizable if the store is told to
// (Options.Linearizable). Every read calls it first, and on a file it is
// one test: small enough to be inlined, which a call to DB.Sync inlined in
// turn would make it too big to be.
func (s *Store) fresh(ctx context.Context) error {
	if !s.linearizable {
		return nil
	}
	return s.syncRead(ctx)
}

// syncRead is fresh's wait, kept out of line (see fresh).
//
//go:noinline
func (s *Store) syncRead(ctx context.Context) error { return s.db.Sync(ctx) }

// behind reports whether, on a store shared by hosts, this host's copy
// was behind etcd, after bringing it up to date: a read that failed on
// the copy is then worth one more try. It reports false on a file, and
// with Options.Linearizable, whose reads are current already.
func (s *Store) behind(ctx context.Context) bool {
	if !s.db.Shared() || s.linearizable {
		return false
	}
	before := s.revision()
	return s.db.Sync(ctx) == nil && s.revision() > before
}

func (s *Store) revision() uint64 {
	var rev uint64
	s.db.View(func(tx *keystore.Tx) error { rev = tx.Revision(); return nil })
	return rev
}

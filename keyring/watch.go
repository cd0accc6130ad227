//go:build linux

package keyring

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/notify"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// Watch sets a watch on a key for queue q with tag 0..255
// (KEYCTL_WATCH_KEY); tag -1 removes q's watch, which then gets a removal
// record. The key needs View. Another tag is EINVAL, as is a nil queue; a
// queue already watching the key is EBUSY; removing a watch that is not
// there is EBADSLT; more watches than the caller's limit is EAGAIN.
//
// Watches live in memory, as long as the store is open, the queue open and
// the key alive. When the key is destroyed each watcher gets a removal
// record carrying its serial.
func (p *Process) Watch(ctx context.Context, id Serial, q *watchqueue.Queue, tag int) error {
	const op = "keyctl_watch_key"
	if tag < -1 || tag > notify.MaxTag {
		return fmt.Errorf("keyring: %s %v: tag %d outside -1..%d: %w", op, id, tag, notify.MaxTag, unix.EINVAL)
	}
	if err := p.create(ctx, id); err != nil {
		return err
	}
	var serial Serial
	err := p.read(ctx, func(t *txn) error {
		k, err := t.lookup(op, id, 0, perms.View)
		if err != nil {
			return err
		}
		serial = k.serial()
		return nil
	})
	if err != nil {
		return err
	}
	if q == nil {
		return fmt.Errorf("keyring: %s %v: no queue: %w", op, id, unix.EINVAL)
	}
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	// Holding mu, no removal can be delivered: if the key is still stored,
	// its destruction (if under way) will find this watch and end it.
	alive := false
	s.db.View(func(tx *keystore.Tx) error {
		alive = tx.HasKey(uint32(serial))
		return nil
	})
	if !alive {
		return errKey(op, id, unix.ENOKEY, "destroyed")
	}
	l := s.watches[serial]
	if tag == -1 {
		if l == nil {
			return errKey(op, id, unix.EBADSLT, "queue does not watch it")
		}
		var rev uint64
		s.db.View(func(tx *keystore.Tx) error { rev = tx.Revision(); return nil })
		return l.Remove(q, rev)
	}
	if l == nil {
		l = notify.NewWatchList(uint64(serial), s.policy)
		s.watches[serial] = l
	}
	if err := l.Add(q, uint8(tag), p.cred); err != nil {
		if l.Len() == 0 {
			delete(s.watches, serial)
		}
		return fmt.Errorf("keyring: %s %v: %w", op, id, err)
	}
	return nil
}

// Watches is how many watches uid holds on this store.
func (s *Store) Watches(uid uint32) int { return s.policy.Watches(uid) }

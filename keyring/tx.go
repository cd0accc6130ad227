//go:build linux

package keyring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/perms"
)

// Tx is a Caller whose operations all happen in one storage transaction,
// made by Process.Atomic: each sees what the ones before it changed, and
// either all of them are committed, durably and at once, or none is.
// Readers never see the state between two of them, and the watchers hear
// their notifications after the commit, in the order the operations ran.
// That is what a Kerberos cache needs to be replaced without a reader
// ever finding it empty, and it costs one commit (one fsync) instead of
// one per operation.
//
// Each operation checks, changes and collects exactly as the Process
// method of its name does, with the Process's credentials, and returns
// the same errors; ctx is not consulted, the transaction is already
// running. The thread and process keyrings exist before the transaction
// starts (Atomic makes them), since they live outside the store.
// JoinSession, AdoptSession, PinSession and UnpinSession change what the
// process holds, which a transaction cannot roll back, and RequestKey is
// left out for want of a user: they fail with EOPNOTSUPP. So do
// request_key's callouts (RequestKeyWithCallout, CompleteRequest,
// AssumeAuthority, Instantiate, Reject): a construction lives in memory
// beside the store, is registered before its commit and ended after it,
// and its builder waits for its helper, none of which a transaction that
// may be rolled back or run again can do.
//
// A Tx never waits for a key under construction (request_key's key that
// its helper has yet to instantiate), since it would wait holding the
// store's write transaction, which the helper needs to finish: an
// operation that would wait (reading the key, linking it, a lookup that
// is not partial) fails with EAGAIN instead, and Atomic does not wait to
// run fn again. The caller may try again once the construction is over.
// Describe, Unlink, SetTimeout, SetPerm, Chown and Search (without a
// destination) see such a key without waiting, as the kernel's do.
//
// A Tx is valid only inside the function Atomic runs, and only in that
// goroutine.
type Tx struct {
	t *txn
}

// A Tx is a Caller; the compiler keeps the two in step.
var _ Caller = (*Tx)(nil)

// errTxDone is what a Tx used after its function returned says.
var errTxDone = errors.New("keyring: transaction used after Atomic returned")

// Atomic runs fn in one transaction: see Tx. If fn returns an error, or
// an operation in it fails and fn passes the error on, nothing fn did is
// kept. Like keystore.DB.Update, fn may run more than once (when the
// commit it shares with other writers is retried) and must have no
// effects outside the Tx. Atomic returns once the change is durable.
func (p *Process) Atomic(ctx context.Context, fn func(tx *Tx) error) error {
	if err := p.create(ctx, ThreadKeyring, ProcessKeyring); err != nil {
		return err
	}
	// updateOnce, not update: Tx.run has turned a construction to wait
	// for into EAGAIN, and nothing here waits for one.
	return p.updateOnce(ctx, func(t *txn) error {
		tx := &Tx{t: t}
		defer func() { tx.t = nil }()
		return fn(tx)
	})
}

// Atomic runs fn in tx itself: a transaction nested in a transaction is
// the same transaction. It lets code written against a Caller that may
// offer Atomic (krb5ring) make its steps atomic whether or not its caller
// already did.
func (tx *Tx) Atomic(_ context.Context, fn func(tx *Tx) error) error {
	if tx.t == nil {
		return errTxDone
	}
	return fn(tx)
}

// Atomizer is a Caller that can run several operations as one transaction:
// a *Process or a *Tx.
type Atomizer interface {
	Caller
	Atomic(ctx context.Context, fn func(tx *Tx) error) error
}

var (
	_ Atomizer = (*Process)(nil)
	_ Atomizer = (*Tx)(nil)
)

// run runs one operation and then collects what it let go of, so that
// the next operation sees what it would see after a commit of its own.
func (tx *Tx) run(fn func(t *txn) error) error {
	if tx.t == nil {
		return errTxDone
	}
	if err := fn(tx.t); err != nil {
		return noWait(err)
	}
	return tx.t.sweep()
}

// noWait is a Tx's answer to an operation that met a key under
// construction (constructionPending), which a Process would wait for:
// EAGAIN, at once, so that nothing waits while the write transaction is
// held (see Tx).
func noWait(err error) error {
	var pending *constructionPending
	if !errors.As(err, &pending) {
		return err
	}
	return fmt.Errorf("keyring: key %d is under construction, which a transaction does not wait for: %w", pending.c.key, unix.EAGAIN)
}

// Add is add_key; see Process.Add.
func (tx *Tx) Add(_ context.Context, typ, desc string, payload []byte, ring Serial) (Serial, error) {
	if err := checkAdd("add_key", typ, desc, payload); err != nil {
		return 0, err
	}
	var id Serial
	err := tx.run(func(t *txn) (err error) {
		id, err = t.add("add_key", typ, desc, payload, ring)
		return err
	})
	return id, err
}

// Update is KEYCTL_UPDATE; see Process.Update.
func (tx *Tx) Update(_ context.Context, id Serial, payload []byte) error {
	if len(payload) > MaxUpdatePayload {
		return fmt.Errorf("keyring: keyctl_update %v: payload of %d bytes, limit %d: %w", id, len(payload), MaxUpdatePayload, unix.EINVAL)
	}
	return tx.run(func(t *txn) error { return t.update(id, payload) })
}

// Read is KEYCTL_READ; see Process.Read.
func (tx *Tx) Read(_ context.Context, id Serial) ([]byte, error) {
	var b []byte
	err := tx.run(func(t *txn) (err error) {
		b, _, err = t.readKey(id)
		return err
	})
	return b, err
}

// Keys is the keys a keyring holds; see Process.Keys.
func (tx *Tx) Keys(_ context.Context, ring Serial) ([]Serial, error) {
	var ids []Serial
	err := tx.run(func(t *txn) error {
		b, isKeyring, err := t.readKey(ring)
		if err != nil {
			return err
		}
		ids, err = keys(b, isKeyring, ring)
		return err
	})
	return ids, err
}

// Describe is KEYCTL_DESCRIBE; see Process.Describe.
func (tx *Tx) Describe(_ context.Context, id Serial) (Description, error) {
	var d Description
	err := tx.run(func(t *txn) (err error) {
		d, err = t.describe(id)
		return err
	})
	return d, err
}

// Search is KEYCTL_SEARCH; see Process.Search.
func (tx *Tx) Search(_ context.Context, ring Serial, typ, desc string, dest Serial) (Serial, error) {
	if err := checkNames(typ, desc); err != nil {
		return 0, err
	}
	var found Serial
	err := tx.run(func(t *txn) (err error) {
		if dest == 0 {
			found, err = t.search("keyctl_search", ring, typ, desc)
		} else {
			found, err = t.searchInto(ring, typ, desc, dest)
		}
		return err
	})
	return found, err
}

// RequestKey is not offered in a transaction: EOPNOTSUPP.
func (tx *Tx) RequestKey(context.Context, string, string, Serial) (Serial, error) {
	return 0, tx.unsupported("request_key")
}

// RequestKeyWithCallout is not offered in a transaction: EOPNOTSUPP.
func (tx *Tx) RequestKeyWithCallout(context.Context, string, string, []byte, Serial) (Serial, *Construction, error) {
	return 0, nil, tx.unsupported("request_key")
}

// CompleteRequest is not offered in a transaction: EOPNOTSUPP.
func (tx *Tx) CompleteRequest(context.Context, Serial) (Serial, error) {
	return 0, tx.unsupported("complete_request")
}

// AssumeAuthority is not offered in a transaction: EOPNOTSUPP.
func (tx *Tx) AssumeAuthority(context.Context, Serial, AuthorityToken) (Serial, error) {
	return 0, tx.unsupported("keyctl_assume_authority")
}

// Instantiate is not offered in a transaction: EOPNOTSUPP.
func (tx *Tx) Instantiate(context.Context, Serial, []byte, Serial) error {
	return tx.unsupported("keyctl_instantiate")
}

// Reject is not offered in a transaction: EOPNOTSUPP.
func (tx *Tx) Reject(context.Context, Serial, time.Duration, unix.Errno, Serial) error {
	return tx.unsupported("keyctl_reject")
}

// Link is KEYCTL_LINK; see Process.Link.
func (tx *Tx) Link(_ context.Context, key, ring Serial) error {
	return tx.run(func(t *txn) error { return t.linkOp(key, ring) })
}

// Unlink is KEYCTL_UNLINK; see Process.Unlink.
func (tx *Tx) Unlink(_ context.Context, key, ring Serial) error {
	return tx.run(func(t *txn) error { return t.unlink(key, ring) })
}

// Move is KEYCTL_MOVE; see Process.Move.
func (tx *Tx) Move(_ context.Context, key, from, to Serial, flags uint) error {
	if flags&^MoveExclusive != 0 {
		return fmt.Errorf("keyring: keyctl_move: flags %#x: %w", flags, unix.EINVAL)
	}
	return tx.run(func(t *txn) error { return t.move(key, from, to, flags) })
}

// Clear is KEYCTL_CLEAR; see Process.Clear.
func (tx *Tx) Clear(_ context.Context, ring Serial) error {
	return tx.run(func(t *txn) error { return t.clear(ring) })
}

// Revoke is KEYCTL_REVOKE; see Process.Revoke.
func (tx *Tx) Revoke(_ context.Context, id Serial) error {
	return tx.run(func(t *txn) error { return t.revoke(id) })
}

// Invalidate is KEYCTL_INVALIDATE; see Process.Invalidate.
func (tx *Tx) Invalidate(_ context.Context, id Serial) error {
	return tx.run(func(t *txn) error { return t.invalidate(id) })
}

// SetTimeout is KEYCTL_SET_TIMEOUT; see Process.SetTimeout.
func (tx *Tx) SetTimeout(_ context.Context, id Serial, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("keyring: keyctl_set_timeout %v: negative timeout %v: %w", id, d, unix.EINVAL)
	}
	return tx.run(func(t *txn) error { return t.setTimeout(id, d) })
}

// SetPerm is KEYCTL_SETPERM; see Process.SetPerm.
func (tx *Tx) SetPerm(_ context.Context, id Serial, m perms.Mask) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("keyring: keyctl_setperm %v: %w", id, err)
	}
	return tx.run(func(t *txn) error { return t.setPerm(id, m) })
}

// Chown is KEYCTL_CHOWN; see Process.Chown.
func (tx *Tx) Chown(_ context.Context, id Serial, uid, gid uint32) error {
	if uid == Unchanged && gid == Unchanged {
		return nil
	}
	return tx.run(func(t *txn) error { return t.chown(id, uid, gid) })
}

// Restrict is KEYCTL_RESTRICT_KEYRING; see Process.Restrict.
func (tx *Tx) Restrict(_ context.Context, ring Serial, typ, restriction string) error {
	return tx.run(func(t *txn) error { return t.restrict(ring, typ, restriction) })
}

// GetPersistent is KEYCTL_GET_PERSISTENT; see Process.GetPersistent.
func (tx *Tx) GetPersistent(_ context.Context, uid uint32, dest Serial) (Serial, error) {
	if tx.t == nil {
		return 0, errTxDone
	}
	uid, err := tx.t.p.persistentUID(uid)
	if err != nil {
		return 0, err
	}
	var id Serial
	err = tx.run(func(t *txn) (err error) {
		id, err = t.getPersistent(uid, dest)
		return err
	})
	return id, err
}

// KeyringID is KEYCTL_GET_KEYRING_ID without create; see
// Process.KeyringID.
func (tx *Tx) KeyringID(ctx context.Context, id Serial) (Serial, error) {
	return tx.GetKeyringID(ctx, id, false)
}

// GetKeyringID is KEYCTL_GET_KEYRING_ID; see Process.GetKeyringID. The
// thread and process keyrings exist already (Atomic made them), so create
// changes nothing.
func (tx *Tx) GetKeyringID(_ context.Context, id Serial, _ bool) (Serial, error) {
	var serial Serial
	err := tx.run(func(t *txn) error {
		k, err := t.lookup("keyctl_get_keyring_ID", id, 0, perms.Search)
		if err != nil {
			return err
		}
		serial = k.serial()
		return nil
	})
	return serial, err
}

// JoinSession is not offered in a transaction: EOPNOTSUPP.
func (tx *Tx) JoinSession(context.Context, string) (Serial, error) {
	return 0, tx.unsupported("keyctl_join_session_keyring")
}

// AdoptSession is not offered in a transaction: EOPNOTSUPP.
func (tx *Tx) AdoptSession(context.Context, Serial) error {
	return tx.unsupported("adopt_session")
}

// PinSession is not offered in a transaction: EOPNOTSUPP.
func (tx *Tx) PinSession(context.Context) (Serial, error) {
	return 0, tx.unsupported("pin_session")
}

// UnpinSession is not offered in a transaction: EOPNOTSUPP.
func (tx *Tx) UnpinSession(context.Context, Serial) error {
	return tx.unsupported("unpin_session")
}

func (tx *Tx) unsupported(op string) error {
	return fmt.Errorf("keyring: %s in a transaction: %w", op, unix.EOPNOTSUPP)
}

// StoreID is the store's identity and its history's; see
// Process.StoreID.
func (tx *Tx) StoreID(context.Context) (StoreID, error) {
	if tx.t == nil {
		return StoreID{}, errTxDone
	}
	return tx.t.s.ID(), nil
}

// Changes is not offered in a transaction: EOPNOTSUPP. The history is of
// commits, which a transaction is not yet, and it is kept under the lock
// that a commit may be taking.
func (tx *Tx) Changes(context.Context, StoreID, uint64) ([]Change, uint64, error) {
	return nil, 0, tx.unsupported("changes")
}

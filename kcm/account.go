//go:build linux

package kcm

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/krb5ring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// reopenInterval is how often a uid's collection is resolved afresh
// (krb5ring.Open, in a transaction, on the first request after it): that
// looks its keyrings up again, and pushes back the expiry of the uid's
// persistent keyring, which, as in the kernel, goes
// PersistentKeyringExpiry (3 days) after it was last asked for, caches
// and all. The server's process keeps the collection keyring it resolved
// alive (MIT's possession link), so if somebody unlinks it from the
// persistent keyring, or puts another in its place, through the daemon,
// the server would go on serving the old one: a minute bounds how long,
// for one commit a minute per active uid.
const reopenInterval = time.Minute

// account is what the server holds for one uid: the process it acts as
// (uid and gid from the kernel, charged to no quota: the KCM limits
// apply instead), and the uid's collection, resolved.
//
// mu serialises the uid's operations, as sssd-kcm queues them per uid, so
// that the limits checked by one are not raced by another: two
// connections of one uid never have a check and its change interleaved.
// Lock order: Server.mu, then account.mu; never the reverse.
type account struct {
	uid  uint32
	proc *keyring.Process
	name krb5ring.Name

	mu     sync.Mutex
	col    *krb5ring.Collection // nil until resolved, or after an error
	opened time.Time
}

func newAccount(store *keyring.Store, cred perms.Cred) *account {
	return &account{
		uid: cred.UID,
		// The gid is the first connection's; the keys' group has no
		// rights in MIT's permissions (0x3f010000), so it matters not.
		proc: store.ProcessNotInQuota(perms.Cred{UID: cred.UID, GID: cred.GID}),
		name: krb5ring.Name{Anchor: krb5ring.AnchorPersistent, Collection: strconv.FormatUint(uint64(cred.UID), 10)},
	}
}

// stale reports whether the collection must be resolved (again) before
// the next operation.
func (a *account) stale(now time.Time) bool {
	return a.col == nil || now.Sub(a.opened) >= reopenInterval
}

// isStoreError reports whether err may mean the collection's keyrings are
// no longer what was resolved (unlinked or collected by someone else):
// anything but an answer to the client (a Code) or an absent cache.
func isStoreError(err error) bool {
	var c Code
	return err != nil && !errors.As(err, &c) && !errors.Is(err, krb5ring.ErrNotFound) && !errors.Is(err, krb5ring.ErrCredNotFound) && !errors.Is(err, ErrMalformed)
}

// release lets go of the process's keyrings.
func (a *account) release(ctx context.Context) error { return a.proc.Release(ctx) }

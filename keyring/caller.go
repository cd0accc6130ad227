//go:build linux

package keyring

import (
	"context"
	"iter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// Caller is what a program acts on the key store through, embedded (a
// *Process on a Store it opened) or over the daemon (a *daemon.Client):
// the operations of a Process, with its signatures and errnos, so that a
// program written against Caller moves between the two by changing the
// line that makes it.
//
// Watch is left out here, since Process.Watch hands the store a
// *watchqueue.Queue, which lives in the caller's memory and cannot cross
// a socket. Watcher, below, is that other half, the same for both: one
// queue per caller, set with Watch(ctx, id, tag) and read with Records.
// Package keyctl's Caller is a Caller and a Watcher. A program that
// watches, and should run with or without a daemon, uses keyctl.Open.
//
// Release and Cred are left out too: a Process is released by whoever
// made it, a daemon connection by closing it, and a client's credentials
// are what the kernel tells the daemon, not something it holds.
type Caller interface {
	// Add is add_key; see Process.Add.
	Add(ctx context.Context, typ, desc string, payload []byte, ring Serial) (Serial, error)
	// Update is KEYCTL_UPDATE; see Process.Update.
	Update(ctx context.Context, id Serial, payload []byte) error
	// Read is KEYCTL_READ; see Process.Read.
	Read(ctx context.Context, id Serial) ([]byte, error)
	// Keys is the keys a keyring holds; see Process.Keys.
	Keys(ctx context.Context, ring Serial) ([]Serial, error)
	// Describe is KEYCTL_DESCRIBE; see Process.Describe.
	Describe(ctx context.Context, id Serial) (Description, error)
	// Search is KEYCTL_SEARCH; see Process.Search.
	Search(ctx context.Context, ring Serial, typ, desc string, dest Serial) (Serial, error)
	// RequestKey is request_key without callout information; see
	// Process.RequestKey.
	RequestKey(ctx context.Context, typ, desc string, dest Serial) (Serial, error)
	// RequestKeyWithCallout is request_key with callout information; see
	// Process.RequestKeyWithCallout.
	RequestKeyWithCallout(ctx context.Context, typ, desc string, callout []byte, dest Serial) (Serial, *Construction, error)
	// CompleteRequest ends a request_key once its helper has exited; see
	// Process.CompleteRequest.
	CompleteRequest(ctx context.Context, key Serial) (Serial, error)
	// AssumeAuthority is KEYCTL_ASSUME_AUTHORITY with a construction's
	// token; see Process.AssumeAuthority.
	AssumeAuthority(ctx context.Context, key Serial, token AuthorityToken) (Serial, error)
	// Instantiate is KEYCTL_INSTANTIATE; see Process.Instantiate.
	Instantiate(ctx context.Context, key Serial, payload []byte, ring Serial) error
	// Reject is KEYCTL_REJECT (and KEYCTL_NEGATE, with ENOKEY); see
	// Process.Reject.
	Reject(ctx context.Context, key Serial, timeout time.Duration, errno unix.Errno, ring Serial) error
	// Link is KEYCTL_LINK; see Process.Link.
	Link(ctx context.Context, key, ring Serial) error
	// Unlink is KEYCTL_UNLINK; see Process.Unlink.
	Unlink(ctx context.Context, key, ring Serial) error
	// Move is KEYCTL_MOVE; see Process.Move.
	Move(ctx context.Context, key, from, to Serial, flags uint) error
	// Clear is KEYCTL_CLEAR; see Process.Clear.
	Clear(ctx context.Context, ring Serial) error
	// Revoke is KEYCTL_REVOKE; see Process.Revoke.
	Revoke(ctx context.Context, id Serial) error
	// Invalidate is KEYCTL_INVALIDATE; see Process.Invalidate.
	Invalidate(ctx context.Context, id Serial) error
	// SetTimeout is KEYCTL_SET_TIMEOUT; see Process.SetTimeout.
	SetTimeout(ctx context.Context, id Serial, d time.Duration) error
	// SetPerm is KEYCTL_SETPERM; see Process.SetPerm.
	SetPerm(ctx context.Context, id Serial, m perms.Mask) error
	// Chown is KEYCTL_CHOWN; see Process.Chown.
	Chown(ctx context.Context, id Serial, uid, gid uint32) error
	// Restrict is KEYCTL_RESTRICT_KEYRING; see Process.Restrict.
	Restrict(ctx context.Context, ring Serial, typ, restriction string) error
	// GetPersistent is KEYCTL_GET_PERSISTENT; see Process.GetPersistent.
	GetPersistent(ctx context.Context, uid uint32, dest Serial) (Serial, error)
	// KeyringID is KEYCTL_GET_KEYRING_ID without create; see
	// Process.KeyringID.
	KeyringID(ctx context.Context, id Serial) (Serial, error)
	// GetKeyringID is KEYCTL_GET_KEYRING_ID; see Process.GetKeyringID.
	GetKeyringID(ctx context.Context, id Serial, create bool) (Serial, error)
	// JoinSession is KEYCTL_JOIN_SESSION_KEYRING; see Process.JoinSession.
	JoinSession(ctx context.Context, name string) (Serial, error)
	// AdoptSession takes a session keyring handed down by serial; see
	// Process.AdoptSession.
	AdoptSession(ctx context.Context, id Serial) error
	// PinSession keeps the session alive without the caller; see
	// Process.PinSession.
	PinSession(ctx context.Context) (Serial, error)
	// UnpinSession lets go of a PinSession hold; see Process.UnpinSession.
	UnpinSession(ctx context.Context, id Serial) error
	// StoreID is the store's identity and its history's, which scope its
	// revisions; see StoreID.
	StoreID(ctx context.Context) (StoreID, error)
	// Changes is what changed after a revision of the store, as far as
	// the caller may see; see Process.Changes.
	Changes(ctx context.Context, from StoreID, after uint64) ([]Change, uint64, error)
}

// A Process is the embedded Caller; the compiler keeps the two in step.
var _ Caller = (*Process)(nil)

// Watcher is what a caller can do with its watches: set and remove them
// on the caller's one queue, and read what they deliver. A *daemon.Client
// is one (its queue is the connection's, in the daemon), so is a
// keyctl.Caller; a *Process, whose Watch takes the queue as an argument,
// becomes one with QueueWatcher.
//
// It stands apart from Caller, rather than in it, because a Process has
// no queue of its own to read: every Caller can make changes, but only
// one that was given or made a queue can watch them.
type Watcher interface {
	// Watch watches key id with tag 0..255 (KEYCTL_WATCH_KEY), or
	// removes the watch with tag -1; see Process.Watch for the errnos.
	Watch(ctx context.Context, id Serial, tag int) error
	// Records yields what the watches deliver, in order, loss records
	// included, until ctx ends (yielding ctx.Err()) or the queue closes.
	Records(ctx context.Context) iter.Seq2[watchqueue.Record, error]
}

// QueueWatcher is the Watcher of p's watches that post into q, read from
// q. Whoever uses it must be the only reader of q.
func QueueWatcher(p *Process, q *watchqueue.Queue) Watcher { return queueWatcher{p, q} }

type queueWatcher struct {
	p *Process
	q *watchqueue.Queue
}

func (w queueWatcher) Watch(ctx context.Context, id Serial, tag int) error {
	return w.p.Watch(ctx, id, w.q, tag)
}

func (w queueWatcher) Records(ctx context.Context) iter.Seq2[watchqueue.Record, error] {
	return w.q.Records(ctx)
}

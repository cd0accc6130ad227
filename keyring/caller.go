package keyring

import (
	"context"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/perms"
)

// Caller is what a program acts on the key store through, embedded (a
// *Process on a Store it opened) or over the daemon (a *daemon.Client):
// the operations of a Process, with its signatures and errnos, so that a
// program written against Caller moves between the two by changing the
// line that makes it.
//
// Watch is left out here, since Process.Watch hands the store a
// *watchqueue.Queue, which lives in the caller's memory and cannot cross
// a socket. Package keyctl's Caller adds it the same way for both: one
// queue per caller, the Caller's own when embedded and the connection's
// over the daemon, set with Watch(ctx, id, tag) and read with Records.
// A program that watches, and should run with or without a daemon, uses
// keyctl.Open.
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
}

// A Process is the embedded Caller; the compiler keeps the two in step.
var _ Caller = (*Process)(nil)

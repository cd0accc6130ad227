//go:build linux

package daemon

import (
	"context"
	"fmt"
	"math"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/wire"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// The Client's calls: each packs its arguments into its op's request,
// calls through the op's row of the table (ops.go), and unpacks the reply.

// Add is keyring.Process.Add: add_key.
func (c *Client) Add(ctx context.Context, typ, desc string, payload []byte, ring keyring.Serial) (keyring.Serial, error) {
	res, err := opAdd.call(ctx, c, wire.AddRequest{Type: typ, Description: desc, Payload: payload, Ring: int32(ring)})
	return keyring.Serial(res.Serial), err
}

// Read is keyring.Process.Read: KEYCTL_READ.
func (c *Client) Read(ctx context.Context, id keyring.Serial) ([]byte, error) {
	res, err := opRead.call(ctx, c, wire.KeyRequest{ID: int32(id)})
	return res.Data, err
}

// Describe is keyring.Process.Describe: KEYCTL_DESCRIBE.
func (c *Client) Describe(ctx context.Context, id keyring.Serial) (keyring.Description, error) {
	res, err := opDescribe.call(ctx, c, wire.KeyRequest{ID: int32(id)})
	return keyring.Description{Type: res.Type, UID: res.UID, GID: res.GID, Perm: perms.Mask(res.Perm), Description: res.Description}, err
}

// Search is keyring.Process.Search: KEYCTL_SEARCH.
func (c *Client) Search(ctx context.Context, ring keyring.Serial, typ, desc string, dest keyring.Serial) (keyring.Serial, error) {
	res, err := opSearch.call(ctx, c, wire.SearchRequest{Ring: int32(ring), Type: typ, Description: desc, Dest: int32(dest)})
	return keyring.Serial(res.Serial), err
}

// Link is keyring.Process.Link: KEYCTL_LINK.
func (c *Client) Link(ctx context.Context, key, ring keyring.Serial) error {
	_, err := opLink.call(ctx, c, wire.LinkRequest{Key: int32(key), Ring: int32(ring)})
	return err
}

// Unlink is keyring.Process.Unlink: KEYCTL_UNLINK.
func (c *Client) Unlink(ctx context.Context, key, ring keyring.Serial) error {
	_, err := opUnlink.call(ctx, c, wire.LinkRequest{Key: int32(key), Ring: int32(ring)})
	return err
}

// Update is keyring.Process.Update: KEYCTL_UPDATE.
func (c *Client) Update(ctx context.Context, id keyring.Serial, payload []byte) error {
	_, err := opUpdate.call(ctx, c, wire.UpdateRequest{ID: int32(id), Payload: payload})
	return err
}

// Revoke is keyring.Process.Revoke: KEYCTL_REVOKE.
func (c *Client) Revoke(ctx context.Context, id keyring.Serial) error {
	_, err := opRevoke.call(ctx, c, wire.KeyRequest{ID: int32(id)})
	return err
}

// Invalidate is keyring.Process.Invalidate: KEYCTL_INVALIDATE.
func (c *Client) Invalidate(ctx context.Context, id keyring.Serial) error {
	_, err := opInvalidate.call(ctx, c, wire.KeyRequest{ID: int32(id)})
	return err
}

// GetKeyringID is keyring.Process.GetKeyringID: KEYCTL_GET_KEYRING_ID.
// The thread and process keyrings it makes belong to the connection.
func (c *Client) GetKeyringID(ctx context.Context, id keyring.Serial, create bool) (keyring.Serial, error) {
	res, err := opGetKeyringID.call(ctx, c, wire.GetKeyringIDRequest{ID: int32(id), Create: create})
	return keyring.Serial(res.Serial), err
}

// KeyringID is keyring.Process.KeyringID: GetKeyringID without create.
func (c *Client) KeyringID(ctx context.Context, id keyring.Serial) (keyring.Serial, error) {
	return c.GetKeyringID(ctx, id, false)
}

// JoinSession is keyring.Process.JoinSession; the session is the
// connection's.
func (c *Client) JoinSession(ctx context.Context, name string) (keyring.Serial, error) {
	res, err := opJoinSession.call(ctx, c, wire.JoinSessionRequest{Name: name})
	return keyring.Serial(res.Serial), err
}

// AdoptSession is keyring.Process.AdoptSession.
func (c *Client) AdoptSession(ctx context.Context, id keyring.Serial) error {
	_, err := opAdoptSession.call(ctx, c, wire.KeyRequest{ID: int32(id)})
	return err
}

// Keys is keyring.Process.Keys: the keys a keyring holds, in the store's
// order.
func (c *Client) Keys(ctx context.Context, ring keyring.Serial) ([]keyring.Serial, error) {
	res, err := opKeys.call(ctx, c, wire.KeyRequest{ID: int32(ring)})
	if err != nil {
		return nil, err
	}
	// Never nil on success, as the store's: an empty keyring is an empty
	// list, not a missing one.
	ids := make([]keyring.Serial, len(res.Serials))
	for i, id := range res.Serials {
		ids[i] = keyring.Serial(id)
	}
	return ids, nil
}

// Move is keyring.Process.Move: KEYCTL_MOVE.
func (c *Client) Move(ctx context.Context, key, from, to keyring.Serial, flags uint) error {
	// The wire carries the kernel's 32 bits; flags beyond them are
	// refused here, as the store would, rather than cut to a valid value.
	if flags > math.MaxUint32 {
		return fmt.Errorf("daemon: move %v: flags %#x: %w", key, flags, unix.EINVAL)
	}
	_, err := opMove.call(ctx, c, wire.MoveRequest{Key: int32(key), From: int32(from), To: int32(to), Flags: uint32(flags)})
	return err
}

// Clear is keyring.Process.Clear: KEYCTL_CLEAR.
func (c *Client) Clear(ctx context.Context, ring keyring.Serial) error {
	_, err := opClear.call(ctx, c, wire.KeyRequest{ID: int32(ring)})
	return err
}

// SetTimeout is keyring.Process.SetTimeout: KEYCTL_SET_TIMEOUT. d goes to
// the daemon as it is, and the store rounds it.
func (c *Client) SetTimeout(ctx context.Context, id keyring.Serial, d time.Duration) error {
	_, err := opSetTimeout.call(ctx, c, wire.SetTimeoutRequest{ID: int32(id), Timeout: int64(d)})
	return err
}

// SetPerm is keyring.Process.SetPerm: KEYCTL_SETPERM.
func (c *Client) SetPerm(ctx context.Context, id keyring.Serial, m perms.Mask) error {
	_, err := opSetPerm.call(ctx, c, wire.SetPermRequest{ID: int32(id), Perm: uint32(m)})
	return err
}

// Chown is keyring.Process.Chown: KEYCTL_CHOWN. Whether the caller may
// give a key away is decided by the uid the kernel gave the daemon.
func (c *Client) Chown(ctx context.Context, id keyring.Serial, uid, gid uint32) error {
	_, err := opChown.call(ctx, c, wire.ChownRequest{ID: int32(id), UID: uid, GID: gid})
	return err
}

// Restrict is keyring.Process.Restrict: KEYCTL_RESTRICT_KEYRING.
func (c *Client) Restrict(ctx context.Context, ring keyring.Serial, typ, restriction string) error {
	_, err := opRestrict.call(ctx, c, wire.RestrictRequest{Ring: int32(ring), Type: typ, Restriction: restriction})
	return err
}

// RequestKey is keyring.Process.RequestKey: request_key, searching the
// connection's thread, process and session keyrings.
func (c *Client) RequestKey(ctx context.Context, typ, desc string, dest keyring.Serial) (keyring.Serial, error) {
	res, err := opRequestKey.call(ctx, c, wire.RequestKeyRequest{Type: typ, Description: desc, Dest: int32(dest)})
	return keyring.Serial(res.Serial), err
}

// RequestKeyWithCallout is keyring.Process.RequestKeyWithCallout: the key
// found, or the construction the caller must build (its token is for the
// caller's helper alone).
func (c *Client) RequestKeyWithCallout(ctx context.Context, typ, desc string, callout []byte, dest keyring.Serial) (keyring.Serial, *keyring.Construction, error) {
	res, err := opRequestKeyCallout.call(ctx, c, wire.RequestKeyCalloutRequest{Type: typ, Description: desc, Callout: callout, Dest: int32(dest)})
	if err != nil || !res.Constructing {
		return keyring.Serial(res.Serial), nil, err
	}
	return 0, &keyring.Construction{
		Key:         keyring.Serial(res.Key),
		Authority:   keyring.Serial(res.Authority),
		Token:       keyring.AuthorityToken(res.Token),
		Op:          res.Op,
		Type:        res.Type,
		Description: res.Description,
		Callout:     res.Callout,
		UID:         res.UID,
		GID:         res.GID,
		Thread:      keyring.Serial(res.Thread),
		Process:     keyring.Serial(res.Process),
		Session:     keyring.Serial(res.Session),
	}, nil
}

// CompleteRequest is keyring.Process.CompleteRequest.
func (c *Client) CompleteRequest(ctx context.Context, key keyring.Serial) (keyring.Serial, error) {
	res, err := opCompleteRequest.call(ctx, c, wire.KeyRequest{ID: int32(key)})
	return keyring.Serial(res.Serial), err
}

// AssumeAuthority is keyring.Process.AssumeAuthority, for the connection:
// the daemon checks the token and the uid the kernel gave it.
func (c *Client) AssumeAuthority(ctx context.Context, key keyring.Serial, token keyring.AuthorityToken) (keyring.Serial, error) {
	res, err := opAssumeAuthority.call(ctx, c, wire.AssumeAuthorityRequest{Key: int32(key), Token: string(token)})
	return keyring.Serial(res.Serial), err
}

// Instantiate is keyring.Process.Instantiate: KEYCTL_INSTANTIATE.
func (c *Client) Instantiate(ctx context.Context, key keyring.Serial, payload []byte, ring keyring.Serial) error {
	_, err := opInstantiate.call(ctx, c, wire.InstantiateRequest{Key: int32(key), Payload: payload, Ring: int32(ring)})
	return err
}

// Reject is keyring.Process.Reject: KEYCTL_REJECT.
func (c *Client) Reject(ctx context.Context, key keyring.Serial, timeout time.Duration, errno unix.Errno, ring keyring.Serial) error {
	_, err := opReject.call(ctx, c, wire.RejectRequest{Key: int32(key), Timeout: int64(timeout), Errno: uint32(errno), Ring: int32(ring)})
	return err
}

// GetPersistent is keyring.Process.GetPersistent: KEYCTL_GET_PERSISTENT.
func (c *Client) GetPersistent(ctx context.Context, uid uint32, dest keyring.Serial) (keyring.Serial, error) {
	res, err := opGetPersistent.call(ctx, c, wire.GetPersistentRequest{UID: uid, Dest: int32(dest)})
	return keyring.Serial(res.Serial), err
}

// PinSession is keyring.Process.PinSession on the connection's session.
// The pin is stored: it outlives the connection, until UnpinSession.
func (c *Client) PinSession(ctx context.Context) (keyring.Serial, error) {
	res, err := opPinSession.call(ctx, c, wire.Empty{})
	return keyring.Serial(res.Serial), err
}

// UnpinSession is keyring.Process.UnpinSession.
func (c *Client) UnpinSession(ctx context.Context, id keyring.Serial) error {
	_, err := opUnpinSession.call(ctx, c, wire.KeyRequest{ID: int32(id)})
	return err
}

// StoreID is keyring.Process.StoreID: the identity of the store the
// daemon serves and of its history, which scope the revisions its
// records and Changes report. A daemon too old to know it answers
// EOPNOTSUPP.
func (c *Client) StoreID(ctx context.Context) (keyring.StoreID, error) {
	res, err := opStoreID.call(ctx, c, wire.Empty{})
	return keyring.StoreID{UUID: res.UUID, History: res.History}, err
}

// Changes is keyring.Process.Changes, asked of the daemon's store: the
// changes after revision after of the store and history from names that
// the connection's uid may see. A history too big for one reply comes in
// several, put together here; the revision returned is the last one's.
func (c *Client) Changes(ctx context.Context, from keyring.StoreID, after uint64) ([]keyring.Change, uint64, error) {
	req := wire.ChangesRequest{Store: from.UUID, History: from.History, After: after}
	var out []keyring.Change
	for {
		res, err := opChanges.call(ctx, c, req)
		if err != nil {
			return nil, 0, err
		}
		for i := range res.Changes {
			out = append(out, change(&res.Changes[i]))
		}
		if !res.More {
			return out, res.Current, nil
		}
		if len(res.Changes) == 0 {
			return nil, 0, fmt.Errorf("daemon: changes after %d: a page with nothing in it and more to come: %w", after, unix.EPROTO)
		}
		req = nextPage(req, out)
	}
}

// Watch is keyring.Process.Watch on the connection's queue, which the
// daemon makes on the first call: tag 0..255 sets a watch on id, -1
// removes it. Read what it delivers with Records.
func (c *Client) Watch(ctx context.Context, id keyring.Serial, tag int) error {
	if tag < -1 || tag > 255 {
		return fmt.Errorf("daemon: watch %v: tag %d outside -1..255: %w", id, tag, unix.EINVAL)
	}
	c.qmu.Lock()
	c.watched = true
	c.qmu.Unlock()
	// Records may come from now on, asked for or not: a goroutine must
	// read them.
	c.stream()
	_, err := opWatch.call(ctx, c, wire.WatchRequest{ID: int32(id), Tag: int32(tag)})
	return err
}

// KeepRevisions makes the connection's watch queue keep revisions, as
// watchqueue.Options.Revisions does a queue of one's own: every record
// Records yields carries the store's revision (of the store and history
// StoreID names), and a loss record the revision of the last record
// before the gap, which Changes can take it on from. It must come before
// the first Watch, which makes the queue: after, it is EBUSY, unless the
// queue keeps them already. A daemon too old to keep them answers EOPNOTSUPP,
// and records carry revision 0.
func (c *Client) KeepRevisions(ctx context.Context) error {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.revisions.Load() {
		return nil
	}
	if c.watched {
		return fmt.Errorf("daemon: keep revisions: the connection watches already: %w", unix.EBUSY)
	}
	if _, err := opWatchRevisions.call(ctx, c, wire.Empty{}); err != nil {
		return err
	}
	c.revisions.Store(true)
	return nil
}

// SetWatchQueue sizes the connection's watch queue to hold notes records
// (0: the daemon's QueueSize) and filters it (nil: everything passes), as
// watchqueue.Queue.SetSize and SetFilter do a queue of one's own; the
// filter applies in the daemon, so records it rejects take no room and
// cause no loss. It must come before the first Watch, which makes the
// queue: after, it is EBUSY. A size outside watchqueue.MinNotes..MaxNotes
// or a bad filter is EINVAL, and the queue can still be set.
func (c *Client) SetWatchQueue(ctx context.Context, notes int, filter *watchqueue.Filter) error {
	req := wire.WatchQueueRequest{Size: int32(notes)}
	if filter != nil {
		b, err := filter.AppendBinary(nil)
		if err != nil {
			return fmt.Errorf("daemon: watch queue filter: %w", err)
		}
		req.Filter = b
	}
	_, err := opWatchQueue.call(ctx, c, req)
	return err
}

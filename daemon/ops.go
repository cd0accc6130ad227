//go:build linux

package daemon

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/wire"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// The daemon's operations, one row each, as keyctl's command table has
// one row per command: the op's code on the wire, its name, and the call
// that serves it, whose argument is the op's request type and whose
// result is its reply type. The same row serves the request in the daemon
// (conn.handle finds it by code) and makes the call in the client
// (operation.call, which the Client's methods in calls.go use), so the
// two cannot disagree on an op's types: they are the serve function's,
// and the compiler checks every use.
//
// A new operation is a row here, and a method in calls.go that packs the
// caller's arguments into its request and unpacks its reply: the package
// doc's "Adding an operation" says it step by step. Codes are the
// protocol's: never renumber one, only add (TestOpsFrozen holds every op
// given out, with its request's and reply's encoding, in
// testdata/ops.golden). A daemon that does not know an op answers
// EOPNOTSUPP and the connection carries on, so adding ops needs no new
// wire.Version; changing an op's request or reply would.
//
// Every serve function acts as the connection's process (c.proc), whose
// credentials the kernel gave (SO_PEERCRED): nothing in a request names
// who is asking.
var (
	opAdd = op(1, "add", func(ctx context.Context, c *conn, r *wire.AddRequest) (wire.SerialReply, error) {
		id, err := c.proc.Add(ctx, r.Type, r.Description, r.Payload, keyring.Serial(r.Ring))
		return wire.SerialReply{Serial: int32(id)}, err
	})
	opRead = op(2, "read", func(ctx context.Context, c *conn, r *wire.KeyRequest) (wire.DataReply, error) {
		data, err := c.proc.Read(ctx, keyring.Serial(r.ID))
		return wire.DataReply{Data: data}, err
	})
	opDescribe = op(3, "describe", func(ctx context.Context, c *conn, r *wire.KeyRequest) (wire.DescribeReply, error) {
		d, err := c.proc.Describe(ctx, keyring.Serial(r.ID))
		return wire.DescribeReply{Type: d.Type, UID: d.UID, GID: d.GID, Perm: uint32(d.Perm), Description: d.Description}, err
	})
	opSearch = op(4, "search", func(ctx context.Context, c *conn, r *wire.SearchRequest) (wire.SerialReply, error) {
		id, err := c.proc.Search(ctx, keyring.Serial(r.Ring), r.Type, r.Description, keyring.Serial(r.Dest))
		return wire.SerialReply{Serial: int32(id)}, err
	})
	opLink = op(5, "link", func(ctx context.Context, c *conn, r *wire.LinkRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.Link(ctx, keyring.Serial(r.Key), keyring.Serial(r.Ring))
	})
	opUnlink = op(6, "unlink", func(ctx context.Context, c *conn, r *wire.LinkRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.Unlink(ctx, keyring.Serial(r.Key), keyring.Serial(r.Ring))
	})
	opUpdate = op(7, "update", func(ctx context.Context, c *conn, r *wire.UpdateRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.Update(ctx, keyring.Serial(r.ID), r.Payload)
	})
	opRevoke = op(8, "revoke", func(ctx context.Context, c *conn, r *wire.KeyRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.Revoke(ctx, keyring.Serial(r.ID))
	})
	opInvalidate = op(9, "invalidate", func(ctx context.Context, c *conn, r *wire.KeyRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.Invalidate(ctx, keyring.Serial(r.ID))
	})
	opGetKeyringID = op(10, "get_keyring_id", func(ctx context.Context, c *conn, r *wire.GetKeyringIDRequest) (wire.SerialReply, error) {
		id, err := c.proc.GetKeyringID(ctx, keyring.Serial(r.ID), r.Create)
		return wire.SerialReply{Serial: int32(id)}, err
	})
	opJoinSession = op(11, "join_session", func(ctx context.Context, c *conn, r *wire.JoinSessionRequest) (wire.SerialReply, error) {
		id, err := c.proc.JoinSession(ctx, r.Name)
		return wire.SerialReply{Serial: int32(id)}, err
	})
	opAdoptSession = op(12, "adopt_session", func(ctx context.Context, c *conn, r *wire.KeyRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.AdoptSession(ctx, keyring.Serial(r.ID))
	})
	// watch sets or removes a watch for the connection's queue, which the
	// first one makes; record frames carry its code (watchCode).
	opWatch = op(watchCode, "watch", func(ctx context.Context, c *conn, r *wire.WatchRequest) (wire.Empty, error) {
		q, err := c.queue()
		if err != nil {
			return wire.Empty{}, err
		}
		return wire.Empty{}, c.proc.Watch(ctx, keyring.Serial(r.ID), q, int(r.Tag))
	})
	opKeys = op(14, "keys", func(ctx context.Context, c *conn, r *wire.KeyRequest) (wire.SerialsReply, error) {
		ids, err := c.proc.Keys(ctx, keyring.Serial(r.ID))
		serials := make([]int32, len(ids))
		for i, id := range ids {
			serials[i] = int32(id)
		}
		return wire.SerialsReply{Serials: serials}, err
	})
	opMove = op(15, "move", func(ctx context.Context, c *conn, r *wire.MoveRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.Move(ctx, keyring.Serial(r.Key), keyring.Serial(r.From), keyring.Serial(r.To), uint(r.Flags))
	})
	opClear = op(16, "clear", func(ctx context.Context, c *conn, r *wire.KeyRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.Clear(ctx, keyring.Serial(r.ID))
	})
	opSetTimeout = op(17, "set_timeout", func(ctx context.Context, c *conn, r *wire.SetTimeoutRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.SetTimeout(ctx, keyring.Serial(r.ID), time.Duration(r.Timeout))
	})
	opSetPerm = op(18, "set_perm", func(ctx context.Context, c *conn, r *wire.SetPermRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.SetPerm(ctx, keyring.Serial(r.ID), perms.Mask(r.Perm))
	})
	opChown = op(19, "chown", func(ctx context.Context, c *conn, r *wire.ChownRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.Chown(ctx, keyring.Serial(r.ID), r.UID, r.GID)
	})
	opRestrict = op(20, "restrict", func(ctx context.Context, c *conn, r *wire.RestrictRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.Restrict(ctx, keyring.Serial(r.Ring), r.Type, r.Restriction)
	})
	opRequestKey = op(21, "request_key", func(ctx context.Context, c *conn, r *wire.RequestKeyRequest) (wire.SerialReply, error) {
		id, err := c.proc.RequestKey(ctx, r.Type, r.Description, keyring.Serial(r.Dest))
		return wire.SerialReply{Serial: int32(id)}, err
	})
	// get_persistent's uid is a key's owner to look for, as the kernel
	// takes it; whether the caller may have it is decided on c.proc's.
	opGetPersistent = op(22, "get_persistent", func(ctx context.Context, c *conn, r *wire.GetPersistentRequest) (wire.SerialReply, error) {
		id, err := c.proc.GetPersistent(ctx, r.UID, keyring.Serial(r.Dest))
		return wire.SerialReply{Serial: int32(id)}, err
	})
	// pin_session's pin is stored, not the connection's: it outlives the
	// connection until someone unpins it, as it outlives a process.
	opPinSession = op(23, "pin_session", func(ctx context.Context, c *conn, _ *wire.Empty) (wire.SerialReply, error) {
		id, err := c.proc.PinSession(ctx)
		return wire.SerialReply{Serial: int32(id)}, err
	})
	opUnpinSession = op(24, "unpin_session", func(ctx context.Context, c *conn, r *wire.KeyRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.UnpinSession(ctx, keyring.Serial(r.ID))
	})
	// pipes moves the connection's frames onto two pipes. It must be the
	// connection's first request, alone on the socket until its reply.
	// conn.read serves it before it looks here (movePipes: it sends the
	// client its ends on the socket, and ends a connection that sends a
	// pipes out of place); serve is the refusal, should one get past.
	opPipes = op(25, "pipes", func(ctx context.Context, c *conn, _ *wire.Empty) (wire.Empty, error) {
		return wire.Empty{}, fmt.Errorf("daemon: pipes must be a connection's first request, alone: %w", unix.EPROTO)
	})

	// request_key's callouts (keyring's construct.go and authority.go).
	// A construction, token and all, goes to the connection that asked.
	opRequestKeyCallout = op(26, "request_key_callout", func(ctx context.Context, c *conn, r *wire.RequestKeyCalloutRequest) (wire.ConstructionReply, error) {
		id, k, err := c.proc.RequestKeyWithCallout(ctx, r.Type, r.Description, r.Callout, keyring.Serial(r.Dest))
		if k == nil {
			return wire.ConstructionReply{Serial: int32(id)}, err
		}
		return wire.ConstructionReply{Constructing: true, Key: int32(k.Key), Authority: int32(k.Authority),
			Token: string(k.Token), Op: k.Op, Type: k.Type, Description: k.Description, Callout: k.Callout,
			UID: k.UID, GID: k.GID, Thread: int32(k.Thread), Process: int32(k.Process), Session: int32(k.Session)}, err
	})
	opCompleteRequest = op(27, "complete_request", func(ctx context.Context, c *conn, r *wire.KeyRequest) (wire.SerialReply, error) {
		id, err := c.proc.CompleteRequest(ctx, keyring.Serial(r.ID))
		return wire.SerialReply{Serial: int32(id)}, err
	})
	opAssumeAuthority = op(28, "assume_authority", func(ctx context.Context, c *conn, r *wire.AssumeAuthorityRequest) (wire.SerialReply, error) {
		id, err := c.proc.AssumeAuthority(ctx, keyring.Serial(r.Key), keyring.AuthorityToken(r.Token))
		return wire.SerialReply{Serial: int32(id)}, err
	})
	opInstantiate = op(29, "instantiate", func(ctx context.Context, c *conn, r *wire.InstantiateRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.Instantiate(ctx, keyring.Serial(r.Key), r.Payload, keyring.Serial(r.Ring))
	})
	opReject = op(30, "reject", func(ctx context.Context, c *conn, r *wire.RejectRequest) (wire.Empty, error) {
		return wire.Empty{}, c.proc.Reject(ctx, keyring.Serial(r.Key), time.Duration(r.Timeout), unix.Errno(r.Errno), keyring.Serial(r.Ring))
	})

	// watch_queue sizes and filters the connection's watch queue, as
	// IOC_WATCH_QUEUE_SET_SIZE and _SET_FILTER do a notification pipe. It
	// must come before the first watch, which makes the queue (EBUSY
	// after).
	opWatchQueue = op(31, "watch_queue", func(ctx context.Context, c *conn, r *wire.WatchQueueRequest) (wire.Empty, error) {
		return wire.Empty{}, c.makeQueue(int(r.Size), r.Filter)
	})
	// status asks the daemon about itself. It calls no keyring method;
	// its rows are the asker's uid's alone unless the asker is root.
	opStatus = op(32, "status", func(ctx context.Context, c *conn, _ *wire.Empty) (wire.StatusReply, error) {
		return c.s.status(c.peer.Cred.UID), nil
	})

	// store_id and changes: the store's identity and its history's,
	// which scope its revisions, and its history after one of them
	// (keyring's history.go), as far as c.proc may see: a change to a key
	// the connection's uid cannot view is not in the reply at all. A
	// history too big for one frame comes in pages (changes.go).
	opStoreID = op(33, "store_id", func(ctx context.Context, c *conn, _ *wire.Empty) (wire.StoreIDReply, error) {
		id, err := c.proc.StoreID(ctx)
		return wire.StoreIDReply{UUID: id.UUID, History: id.History}, err
	})
	opChanges = op(34, "changes", func(ctx context.Context, c *conn, r *wire.ChangesRequest) (wire.ChangesReply, error) {
		cs, cur, err := c.proc.Changes(ctx, keyring.StoreID{UUID: r.Store, History: r.History}, r.After)
		if err != nil {
			return wire.ChangesReply{}, err
		}
		return changesPage(cs, r.Skip, cur), nil
	})
	// watch_revisions makes the connection's watch queue keep revisions
	// (watchqueue.Options.Revisions): every record it streams carries the
	// store's revision after the kernel's layout, and a loss record the
	// revision of the last record before the gap, which changes can take
	// it on from. Off, records are the kernel's, byte for byte. Like
	// watch_queue, it must come before the first watch (EBUSY after,
	// unless the queue keeps them already).
	opWatchRevisions = op(35, "watch_revisions", func(ctx context.Context, c *conn, _ *wire.Empty) (wire.Empty, error) {
		return wire.Empty{}, c.keepRevisions()
	})
)

// watchCode is watch's code, which record frames carry too.
const watchCode wire.Op = 13

// message is a request or reply type of the table: a wire.Message whose
// methods are on its pointer, PT, so that a row can make a zero one of T
// to decode into.
type message[T any] interface {
	*T
	wire.Message
}

// operation is one row of the table: Req and Rep are its request and
// reply types (PReq and PRep, their pointers, the wire.Messages).
type operation[Req, Rep any, PReq message[Req], PRep message[Rep]] struct {
	code wire.Op
	name string
	// serve runs the operation for connection c and returns its reply,
	// which is sent only if err is nil.
	serve func(ctx context.Context, c *conn, req *Req) (Rep, error)
}

// handler is a row as the daemon's reader sees it, whatever its types.
type handler interface {
	// handle decodes request id's body, serves it, and appends the reply
	// to what c owes.
	handle(ctx context.Context, c *conn, id uint32, body []byte)
	String() string // the op's name
	// messages are a zero request and a zero reply of the op's types, for
	// the tests that hold every row to its encoding (ops_internal_test.go).
	messages() (req, rep wire.Message)
}

// byCode is the table by code: op enters each row as it is declared.
var byCode []handler

// op declares a row of the table and enters it in byCode. A code given
// twice is a panic as the package initialises, which every test and
// program of it meets before it serves anything.
func op[Req, Rep any, PReq message[Req], PRep message[Rep]](code wire.Op, name string, serve func(context.Context, *conn, *Req) (Rep, error)) *operation[Req, Rep, PReq, PRep] {
	o := &operation[Req, Rep, PReq, PRep]{code: code, name: name, serve: serve}
	if int(code) >= len(byCode) {
		byCode = append(byCode, make([]handler, int(code)+1-len(byCode))...)
	}
	if code == 0 || byCode[code] != nil {
		panic(fmt.Sprintf("daemon: op %s given code %d, which is 0 or taken", name, code))
	}
	byCode[code] = o
	return o
}

// lookup is the row of code, or nil for an op this daemon does not know.
func lookup(code wire.Op) handler {
	if int(code) < len(byCode) {
		return byCode[code]
	}
	return nil
}

// opName is code's name in the table, for messages.
func opName(code wire.Op) string {
	if h := lookup(code); h != nil {
		return h.String()
	}
	return fmt.Sprintf("op %d", uint16(code))
}

func (o *operation[Req, Rep, PReq, PRep]) String() string { return o.name }

func (o *operation[Req, Rep, PReq, PRep]) messages() (req, rep wire.Message) {
	return PReq(new(Req)), PRep(new(Rep))
}

func (o *operation[Req, Rep, PReq, PRep]) handle(ctx context.Context, c *conn, id uint32, body []byte) {
	var req Req
	if err := c.dec.Decode(body, PReq(&req)); err != nil {
		c.reply(id, o.code, fmt.Errorf("daemon: %s request: %w", o.name, err), nil)
		return
	}
	rep, err := o.serve(ctx, c, &req)
	c.reply(id, o.code, err, PRep(&rep))
}

// call makes the operation's call on the daemon, as the process that
// dialled c: it sends req and returns the reply, whose fields are zero
// when err is not nil.
func (o *operation[Req, Rep, PReq, PRep]) call(ctx context.Context, c *Client, req Req) (Rep, error) {
	var rep Rep
	err := c.call(ctx, o.code, PReq(&req), PRep(&rep))
	return rep, err
}

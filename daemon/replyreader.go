//go:build linux

package daemon

import (
	"bytes"
	"context"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/wire"
)

// replyReader is how a Client's call reads its own reply: it belongs to
// whoever holds the client's read turn, so one per Client serves every
// call, and a call's read allocates nothing but the reply's copy.
//
// A call writes its request from inside the read: RawConn.Read forgets
// what the poller said before it first calls back (as frameReader
// explains), so a request written in the callback is written after that
// point, and its reply raises an edge that the read may wait for without
// asking the socket first, which would only find it empty. That saves a
// read(2) per call. Bytes that came before that point and were not read
// wait for that edge too, which is all a call holding the turn owes them.
// A daemon that has hung up fails the write (EPIPE), so none of this
// waits on a dead peer.
//
// The holder never waits to write: the daemon may be waiting to write
// replies to this socket before it reads more requests, and while the
// holder waits nobody reads them. A request that cannot go out at once is
// left to the caller, who lets the turn go before it waits (see unsent).
type replyReader struct {
	c     *Client
	fr    *frameReader
	read  func(fd uintptr) bool // r.readCall, bound once
	write func(fd uintptr)      // r.writeRequest, bound once: the request to the client's pipe

	// The call in progress, between readReply and the callback.
	id     uint32
	req    []byte // the request, until written
	wrote  int    // how much of req writeRequest wrote
	own    []byte // the reply's body, once got
	got    bool
	unsent unsent // what the callback could not write
	werr   error  // the write's error
	bad    error  // a frame the daemon should not have sent, or ErrClosed
	rerr   error  // the read's error
}

// unsent is what readReply could not write of a request without waiting.
type unsent struct {
	rest    []byte // nil: the request went out whole
	partial bool   // part of it went out, and wmu is held for the rest
	full    bool   // the socket had no room (else another call was writing)
}

func newReplyReader(c *Client) *replyReader {
	r := &replyReader{c: c, fr: newFrameReader(clientReadBuffer)}
	r.read, r.write = r.readCall, r.writeRequest
	return r
}

// readReply reads until the reply to call id comes, and returns its body,
// a copy; frames for others are handed on as they come. req, if not nil,
// is the call's request, not yet written; if it cannot all go out without
// waiting, readReply returns at once with what is left in u, and no body.
// The caller holds the read turn.
func (r *replyReader) readReply(ctx context.Context, op wire.Op, id uint32, req []byte) (body []byte, u unsent, err error) {
	c := r.c
	r.id, r.req = id, req
	defer r.reset()
	if err := r.handle(); err != nil {
		return nil, unsent{}, c.readFailed(ctx, err, nil)
	}

	if ctx.Done() != nil {
		// Wake the read when ctx ends, and lift the deadline again before
		// the turn goes to the next holder.
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			c.in.SetReadDeadline(time.Unix(1, 0))
			close(fired)
		})
		defer func() {
			if !stop() {
				<-fired
				c.in.SetReadDeadline(time.Time{})
			}
		}()
	}

	err = c.rc.Read(r.read)
	switch {
	case r.got:
		return r.own, unsent{}, nil
	case r.werr != nil:
		return nil, unsent{}, c.writeFailed(ctx, op, r.werr)
	case r.unsent.rest != nil:
		return nil, r.unsent, nil
	case r.bad != nil:
		return nil, unsent{}, c.readFailed(ctx, r.bad, nil)
	case r.rerr != nil:
		return nil, unsent{}, c.readFailed(ctx, nil, r.rerr)
	default:
		return nil, unsent{}, c.readFailed(ctx, nil, err)
	}
}

// reset forgets the call, so that nothing of it is kept.
func (r *replyReader) reset() {
	*r = replyReader{c: r.c, fr: r.fr, read: r.read, write: r.write}
}

// readCall is the RawConn.Read callback: first the request, if it is not
// out yet, then reads until the reply has come.
func (r *replyReader) readCall(fd uintptr) bool {
	if r.req != nil {
		// Another call writing may be waiting for room, which only
		// reading makes: leave the request to the caller rather than wait
		// for that call here.
		if !r.c.wmu.TryLock() {
			r.unsent.rest = r.req
			return true
		}
		n, err := r.writeNow(fd)
		switch {
		case err != nil:
			r.c.wmu.Unlock()
			r.werr = err
			return true
		case n == 0:
			r.c.wmu.Unlock()
			r.unsent = unsent{rest: r.req, full: true}
			return true
		case n < len(r.req):
			// Part of the frame is out: wmu stays held, so that no other
			// frame comes between, until the caller has written the rest.
			r.unsent = unsent{rest: r.req[n:], partial: true, full: true}
			return true
		}
		r.c.wmu.Unlock()
		r.req = nil
		return false // wait for the reply's edge
	}
	for !r.got {
		_, err := r.fr.fill(int(fd))
		if err == unix.EAGAIN {
			return false // wait for the poller
		}
		if err != nil {
			r.rerr = err
			return true
		}
		if r.bad = r.handle(); r.bad != nil {
			return true
		}
		// Not here yet: read on until EAGAIN, as a reader must that has
		// not written since its last read (see frameReader).
	}
	return true
}

// handle takes the whole frames buffered, up to the call's reply, and
// hands the others on.
func (r *replyReader) handle() error {
	for !r.got {
		f, ok, err := r.fr.next()
		switch {
		case !ok:
			return nil
		case err != nil:
			return err
		case f.Kind == wire.KindReply && f.ID == r.id:
			// A copy: the buffer is the next holder's once the turn goes.
			r.own, r.got = bytes.Clone(f.Body), true
		default:
			if err := r.c.dispatch(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeNow writes what it can of the request at once, from inside a read
// of the replies, whose descriptor is readFD: that is the socket's too,
// unless the client is on pipes.
func (r *replyReader) writeNow(readFD uintptr) (int, error) {
	if !r.c.piped {
		return writeSome(int(readFD), r.req)
	}
	r.wrote, r.werr = 0, nil
	if err := r.c.wrc.Control(r.write); err != nil {
		return 0, err
	}
	return r.wrote, r.werr
}

// writeRequest is writeNow's write to the request pipe, fd.
func (r *replyReader) writeRequest(fd uintptr) {
	r.wrote, r.werr = writeSome(int(fd), r.req)
}

// writeSome writes b to the socket or pipe fd, which does not block, until it is
// all written or the socket is full; it returns how much it wrote, and
// an error only if the write failed.
func writeSome(fd int, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Write(fd, b[n:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return n, nil
		case err != nil:
			return n, os.NewSyscallError("write", err)
		}
		n += m
	}
	return n, nil
}

//go:build linux

package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/wire"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// keepReplyBuffer bounds the replies a connection holds back to write
// together, and the reply buffer it keeps between calls (bytes): one
// read of a big_key may need 1 MiB, but an idle connection should not go
// on holding it.
const keepReplyBuffer = 64 << 10

// socketReadBuffer is each connection's read buffer (bytes): room for a
// few dozen pipelined small requests, taken with one read(2).
const socketReadBuffer = 8 << 10

// conn is one client connection. Its reader goroutine (serve) decodes
// requests, calls the store and writes the replies itself: a call costs
// no goroutine hand-off, and replies to requests that arrived together
// are written together, with one write(2). A second goroutine (records),
// started by the first Watch, streams the watch queue. Both write whole
// frames under wmu. The store posts into the queue without ever waiting,
// so only this connection's goroutines wait on a slow client.
//
// Frames go through the socket, or through two pipes once the client
// asks (pipes, pipes.go); a third goroutine (watchHangUp) then
// waits for the socket's hang-up.
type conn struct {
	s    *Server
	c    *net.UnixConn
	peer Peer
	proc *keyring.Process

	// in and out are where requests are read from and replies and records
	// written to: the socket, or the pipes. smu guards their change, for
	// Close's deadlines; the reader goroutine, which makes the change,
	// reads them without it, as does records, started after.
	smu     sync.Mutex
	in, out stream
	pipes   *connPipes    // nil on the socket
	hungUp  chan struct{} // closed when watchHangUp returns; nil on the socket

	// wmu is held for each write of frames, so that a reply and a batch
	// of records never interleave.
	wmu sync.Mutex

	// Owned by the reader goroutine.
	owed        wire.Encoder      // replies encoded and not yet written, in owed.B
	dec         wire.Decoder      // decodes requests (operation.handle)
	handled     int               // requests handled so far
	q           *watchqueue.Queue // the watch queue, once made
	revisions   bool              // q keeps revisions (watch_revisions)
	recordsDone chan struct{}     // closed when records returns; nil until q
}

func newConn(s *Server, c *net.UnixConn, p Peer) *conn {
	return &conn{
		s:    s,
		c:    c,
		peer: p,
		proc: s.store.Process(p.Cred),
		in:   c,
		out:  c,
	}
}

// serve reads requests and answers them in order until the client goes,
// the protocol breaks, or the server closes; then it tears down.
func (c *conn) serve() {
	defer c.s.wg.Done()
	// Calls are not cancelled when the server closes: Close lets them
	// finish, and they do not wait on the client.
	ctx := context.Background()
	defer c.teardown(ctx)
	fr := newFrameReader(socketReadBuffer)
	err := c.read(ctx, fr)
	if err == nil && c.pipes != nil {
		err = c.read(ctx, newFrameReader(socketReadBuffer))
	}
	switch {
	case c.handled == 0 && errors.Is(err, os.ErrDeadlineExceeded) && !c.s.closing.Load():
		c.s.noFirstRequest(c.peer)
	case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrClosed):
		// The connection failed or the client went in the middle of a
		// frame: nobody to answer.
		c.s.log.Info("daemon: read", "uid", c.peer.Cred.UID, "pid", c.peer.PID, "err", err)
	}
}

// firstRequest lifts the deadline that a new connection had for sending
// its first request (Options.FirstRequestTimeout), unless Close has set
// one since: Close marks the server closing before it sets its deadlines
// under smu, so under smu, not closing means that Close's comes after.
func (c *conn) firstRequest() {
	c.smu.Lock()
	defer c.smu.Unlock()
	if !c.s.closing.Load() {
		c.c.SetReadDeadline(time.Time{})
	}
}

// read reads requests from c.in and answers them until the client goes,
// the protocol breaks, the server closes, or the connection moves to its
// pipes: then it returns nil with c.pipes set, for the caller to read on
// from them.
func (c *conn) read(ctx context.Context, fr *frameReader) error {
	rc, err := c.in.SyscallConn()
	if err != nil {
		return err
	}
	return fr.run(rc, frameHandler{
		frame: func(f wire.Frame, err error) bool {
			if c.handled++; c.handled == 1 {
				c.firstRequest()
			}
			switch {
			case err != nil:
				// A frame this side cannot make sense of: say why, then
				// hang up, since the stream can no longer be trusted to
				// be at a frame boundary.
				c.s.log.Info("daemon: bad frame", "uid", c.peer.Cred.UID, "pid", c.peer.PID, "err", err)
				c.reply(f.ID, f.Op, err, nil)
				return false
			case f.Kind != wire.KindRequest:
				c.reply(f.ID, f.Op, fmt.Errorf("daemon: client sent a %v frame: %w", f.Kind, unix.EPROTO), nil)
				return false
			case f.Op == opPipes.code:
				return c.movePipes(f, fr)
			}
			c.handle(ctx, f)
			// Replies wait for the requests that arrived with this one,
			// to go out together, but not without bound.
			return len(c.owed.B) < keepReplyBuffer || c.flush()
		},
		// Every request that arrived is answered: the client is waiting.
		idle: func() (ok, wrote bool) {
			wrote = len(c.owed.B) > 0
			ok = c.flush()
			return ok, wrote && ok
		},
		// Once the server closes, requests already read are answered,
		// and no more are read.
		more: func() bool { return !c.s.closing.Load() },
	})
}

// movePipes answers pipes (opPipes): it makes the connection's pipes,
// sends the client its ends with the reply, and switches the connection
// to them; false stops the socket's reader, so that serve reads on from
// the pipes. pipes must come first and alone, so that no request is left
// behind on the socket; the reply to one that does not is EPROTO, and the
// connection ends. One the daemon cannot serve (out of descriptors, say)
// gets the error and stays on the socket.
func (c *conn) movePipes(f wire.Frame, fr *frameReader) bool {
	if c.handled != 1 || fr.r != fr.w {
		c.reply(f.ID, f.Op, fmt.Errorf("daemon: %s must be a connection's first request, alone: %w", opPipes, unix.EPROTO), nil)
		return false
	}
	p, err := newConnPipes(c.s.opts.SendBuffer)
	if err != nil {
		c.reply(f.ID, f.Op, err, nil)
		return true
	}
	frame, _ := wire.AppendReply(nil, f.ID, f.Op, 0, "", &wire.Empty{})
	c.wmu.Lock()
	err = sendWithFDs(c.c, frame, p.client[:])
	c.wmu.Unlock()
	p.closeClientEnds()
	if err != nil {
		p.close()
		c.s.log.Info("daemon: sending pipes", "uid", c.peer.Cred.UID, "pid", c.peer.PID, "err", err)
		return false
	}
	c.smu.Lock()
	c.pipes, c.in, c.out = p, p.requests, p.replies
	c.hungUp = make(chan struct{})
	closing := c.s.closing.Load()
	c.smu.Unlock()
	go c.watchHangUp()
	if closing {
		// Close set its deadlines on the socket before the pipes were in
		// place: give the pipes theirs.
		c.setDeadlines(time.Now(), c.s.opts.DrainTimeout)
	}
	return false
}

// watchHangUp waits on the socket, which carries nothing once the
// connection is on its pipes, for the client to hang up (or to send
// something, which it must not); then it wakes the reader, which ends the
// connection. It returns once the socket is closed.
func (c *conn) watchHangUp() {
	defer close(c.hungUp)
	var b [1]byte
	c.c.Read(b[:])
	c.smu.Lock()
	c.in.SetReadDeadline(time.Unix(1, 0))
	c.smu.Unlock()
}

// setDeadlines wakes a reader waiting for a request, and lets writes to
// the client go on until drain from now.
func (c *conn) setDeadlines(now time.Time, drain time.Duration) {
	c.smu.Lock()
	defer c.smu.Unlock()
	c.c.SetReadDeadline(now)
	c.in.SetReadDeadline(now)
	c.out.SetWriteDeadline(now.Add(drain))
}

// flush writes the replies owed; false if the write failed. It does not
// close anything: it runs inside the frameReader's read, which Close
// would wait for.
func (c *conn) flush() bool {
	if len(c.owed.B) == 0 {
		return true
	}
	c.wmu.Lock()
	_, err := c.out.Write(c.owed.B)
	c.wmu.Unlock()
	if cap(c.owed.B) > keepReplyBuffer {
		c.owed.B = nil
	} else {
		c.owed.B = c.owed.B[:0]
	}
	return err == nil
}

// teardown ends the connection: first what is owed goes out, within the
// drain timeout: the error reply to a bad frame, and the replies to
// requests read before the connection ended; then the queue, so that its
// watches and their quota are gone by the time the client sees the
// socket close, and the records goroutine ends; then the socket and the
// process.
func (c *conn) teardown(ctx context.Context) {
	c.out.SetWriteDeadline(time.Now().Add(c.s.opts.DrainTimeout))
	c.flush()
	if c.q != nil {
		c.q.Close()
		<-c.recordsDone
	}
	if c.pipes != nil {
		c.pipes.close()
	}
	c.c.Close()
	if c.hungUp != nil {
		<-c.hungUp
	}
	if err := c.proc.Release(ctx); err != nil {
		c.s.log.Warn("daemon: release", "uid", c.peer.Cred.UID, "pid", c.peer.PID, "err", err)
	}
	c.s.remove(c)
}

// records streams what the watch queue holds to the client as record
// frames, each read of the queue (as many whole records as fit) one
// frame, until the queue is closed or a write fails; then it closes what
// requests come from, so that the reader stops too (the close waits for
// the reader to leave its read).
func (c *conn) records(q *watchqueue.Queue) {
	defer close(c.recordsDone)
	rec := make([]byte, watchqueue.ReadBufferSize)
	frame := make([]byte, 0, wire.LengthSize+wire.HeaderSize+len(rec))
	for {
		n, err := q.Read(rec)
		if err != nil {
			return // closed: the connection is going
		}
		frame, _ = wire.Frame{Kind: wire.KindRecord, Op: watchCode, Body: rec[:n]}.Append(frame[:0])
		c.wmu.Lock()
		_, err = c.out.Write(frame)
		c.wmu.Unlock()
		if err != nil {
			c.in.Close()
			return
		}
	}
}

// reply appends a reply frame for request id to the replies owed. err's
// errno goes on the wire with its message; an error without one is EIO.
func (c *conn) reply(id uint32, op wire.Op, err error, res wire.Message) {
	var errno unix.Errno
	msg := ""
	if err != nil {
		if !errors.As(err, &errno) || errno == 0 {
			errno = unix.EIO
		}
		msg = err.Error()
	}
	if ferr := c.owed.Reply(id, op, errno, msg, res); ferr != nil {
		c.owed.Reply(id, op, unix.EMSGSIZE, fmt.Sprintf("daemon: %s reply: %v", opName(op), ferr), nil)
	}
}

// handle serves one request with its row of the table (ops.go).
func (c *conn) handle(ctx context.Context, f wire.Frame) {
	h := lookup(f.Op)
	if h == nil {
		c.reply(f.ID, f.Op, fmt.Errorf("daemon: unknown op %d: %w", uint16(f.Op), unix.EOPNOTSUPP), nil)
		return
	}
	h.handle(ctx, c, f.ID, f.Body)
}

// queue returns the connection's watch queue, making it on first use,
// of the server's size, and starting the goroutine that streams what it
// holds.
func (c *conn) queue() (*watchqueue.Queue, error) {
	if c.q != nil {
		return c.q, nil
	}
	if err := c.makeQueue(0, nil); err != nil {
		return nil, err
	}
	return c.q, nil
}

// keepRevisions makes the watch queue keep revisions, once it is made
// (watch_revisions): EBUSY if it is made already without them.
func (c *conn) keepRevisions() error {
	if c.q != nil && !c.q.Revisions() {
		return fmt.Errorf("daemon: the connection's watch queue is made already, without revisions: %w", unix.EBUSY)
	}
	c.revisions = true
	return nil
}

// makeQueue makes the connection's watch queue, of notes records (0: the
// server's QueueSize), filtered by filter (the kernel's layout; empty for
// none), and starts the goroutine that streams it (watch_queue).
// A queue made already is EBUSY, as a sized pipe is; a bad size or
// filter is EINVAL and leaves the connection without a queue, as before.
func (c *conn) makeQueue(notes int, filter []byte) error {
	if c.q != nil {
		return fmt.Errorf("daemon: the connection's watch queue is made already: %w", unix.EBUSY)
	}
	if notes == 0 {
		notes = c.s.opts.QueueSize
	}
	q := watchqueue.New(watchqueue.Options{Revisions: c.revisions})
	if err := q.SetSize(notes); err != nil {
		return fmt.Errorf("daemon: sizing the watch queue: %w", err)
	}
	if len(filter) > 0 {
		f, err := watchqueue.ParseFilter(filter)
		if err == nil {
			err = q.SetFilter(f)
		}
		if err != nil {
			return fmt.Errorf("daemon: filtering the watch queue: %w", err)
		}
	}
	c.q = q
	c.recordsDone = make(chan struct{})
	go c.records(q)
	return nil
}

//go:build linux

package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/wire"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// recordBacklog is how many record frames a Client holds for Records
// before it stops reading the socket. Kept small on purpose: a client
// that does not drain its records should make the daemon's queue, which
// is bounded and reports loss, fill, not its own memory.
const recordBacklog = 16

// clientReadBuffer is a Client's read buffer (bytes): a typical reply, or
// a batch of them, in one read(2).
const clientReadBuffer = 8 << 10

// A Client is the daemon's keyring.Caller; the compiler keeps it in step
// with the embedded one, keyring.Process.
var _ keyring.Caller = (*Client)(nil)

// ErrClosed is returned by calls on a Client after Close.
var ErrClosed = errors.New("daemon: client closed")

// Error is a failure the daemon reported. It unwraps to the errno, so
// errors.Is(err, unix.ENOKEY) holds as it would for the store's own error.
type Error struct {
	Op      string // the operation's name in the daemon's table ("read")
	Errno   unix.Errno
	Message string // the daemon's message, naming the operation and ids
}

func (e *Error) Error() string {
	if e.Message != "" {
		return "daemon: " + e.Message
	}
	return fmt.Sprintf("daemon: %s: %v", e.Op, e.Errno)
}

func (e *Error) Unwrap() error { return e.Errno }

// Client is a connection to a daemon. Its methods mirror keyring.Process
// and act as the process that dialled, as the kernel identifies it to the
// daemon: it is a keyring.Caller, so a program written against that
// interface runs on the daemon or on a store of its own alike. It is safe
// for concurrent use; the daemon answers one call at a time, in order.
//
// A call reads its own reply: it takes the read turn, writes its request
// and reads on its own goroutine, so that a call costs the caller's write
// and read and no hand-off to a reader goroutine. Calls made meanwhile
// wait for their reply from the turn's holder, or for the turn. A reader
// goroutine, which takes the turn for good, is started by the first Watch,
// since records come unasked, and by the first write that finds the
// socket full, since the daemon may then be waiting to write replies
// that no call is reading.
//
// This file is the Client's transport; its methods, each a call through a
// row of the daemon's table (ops.go), are in calls.go.
type Client struct {
	c *net.UnixConn
	// in is what replies and records are read from, out what requests are
	// written to: the socket, or the connection's pipes (pipes.go), which
	// Dial asks the daemon for. rc and wrc are their raw connections.
	in, out stream
	rc, wrc syscall.RawConn
	piped   bool // in and out are pipes

	records chan []byte
	done    chan struct{} // closed once the connection has ended (see end)
	closing chan struct{} // closed by Close
	once    sync.Once

	// turn holds the right to read the socket, one token: a call takes it
	// to read its reply, the reader goroutine for good, Close at the end.
	// rr is the holder's.
	turn chan struct{}
	rr   *replyReader

	streamer sync.WaitGroup // the reader goroutine, once started (stream)

	// qmu orders KeepRevisions before the first Watch, so that no record
	// arrives before revisions says how to read it; watched is set by the
	// first Watch, revisions once the daemon's queue keeps them.
	qmu       sync.Mutex
	watched   bool
	revisions atomic.Bool

	wmu sync.Mutex // serialises frame writes

	// mu guards pending, next, err, ended and streaming.
	mu        sync.Mutex
	pending   map[uint32]chan []byte
	next      uint32
	err       error // why the connection ended
	ended     bool  // done is closed
	streaming bool  // the reader goroutine was started
}

// DefaultDialTimeout bounds Dial: connecting, checking who listens, and
// the first exchange (pipes). A daemon answers that at once, so
// one that has not within 5 s is wedged or out of descriptors, and the
// command waiting on it had better say so than hang.
const DefaultDialTimeout = 5 * time.Second

// dialTimeout is DefaultDialTimeout; tests shorten it.
var dialTimeout = DefaultDialTimeout

// Dial connects to the daemon at path, and moves the connection's frames
// onto pipes if the daemon offers them (the pipes op): they cost about
// half what the socket does per call.
//
// Before it sends anything, Dial asks the kernel who made the socket it
// reached (SO_PEERCRED), and talks only to a daemon running as this
// process's effective uid or as root (at SystemSocket, also as the owner
// of its directory: see trustedServerUIDs): anyone else's is refused with an
// error naming path and the uid found there, which unwraps to EPERM.
// Dialling, that check and the pipes' exchange must finish within
// DefaultDialTimeout, or within ctx if it ends sooner; past it Dial
// fails with an error naming path that unwraps to ETIMEDOUT.
func Dial(ctx context.Context, path string) (*Client, error) {
	return dial(ctx, path, true)
}

// dial is Dial; with usePipes false the connection stays on the socket,
// as it does with a daemon that has no pipes to offer.
func dial(ctx context.Context, path string, usePipes bool) (*Client, error) {
	if err := noSocket(path); err != nil {
		return nil, err
	}
	timeout := dialTimeout
	errTimeout := &dialTimeoutError{path: path, timeout: timeout}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if context.Cause(ctx) == errTimeout {
			return nil, errTimeout
		}
		return nil, &dialError{path: path, err: err}
	}
	uc := nc.(*net.UnixConn)
	if err := checkServer(uc, path); err != nil {
		uc.Close()
		return nil, err
	}
	c := &Client{
		c:       uc,
		in:      uc,
		out:     uc,
		records: make(chan []byte, recordBacklog),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
		turn:    make(chan struct{}, 1),
		pending: make(map[uint32]chan []byte),
	}
	if usePipes {
		err = c.askPipes(ctx)
	}
	if err == nil {
		if c.rc, err = c.in.SyscallConn(); err == nil {
			c.wrc, err = c.out.SyscallConn()
		}
	}
	if err != nil {
		c.closeStreams()
		switch {
		case context.Cause(ctx) == errTimeout:
			return nil, errTimeout
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, unix.ECONNRESET), errors.Is(err, unix.EPIPE):
			return nil, fmt.Errorf("daemon: dial %s: the daemon hung up without answering (it refuses a uid past its connection limit, and a per-user daemon other users: see its log): %w", path, err)
		}
		return nil, fmt.Errorf("daemon: dial %s: %w", path, err)
	}
	c.rr = newReplyReader(c)
	c.turn <- struct{}{}
	return c, nil
}

// askPipes asks the daemon to move the connection onto pipes, and takes
// them if it does. It is the connection's first call, alone on it.
func (c *Client) askPipes(ctx context.Context) (err error) {
	if ctx.Done() != nil {
		// A ctx that ends cuts the exchange short, and fails the dial
		// even if it has finished: the socket's deadline is then set.
		stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() && err == nil {
				err = ctx.Err()
			}
		}()
	}
	c.next++
	req, err := wire.AppendRequest(nil, c.next, opPipes.code, &wire.Empty{})
	if err != nil {
		return err
	}
	if _, err := c.c.Write(req); err != nil {
		return ctxOr(ctx, err)
	}
	requests, replies, err := receivePipes(c.c, c.next)
	if err != nil {
		return ctxOr(ctx, err)
	}
	if requests != nil {
		c.in, c.out, c.piped = replies, requests, true // closed with the client from now on
	}
	return nil
}

// ctxOr is ctx's error if ctx has ended, which is then why err happened,
// else err.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// closeStreams closes the connection: the reply pipe first, so that the
// daemon's next write fails, then the request pipe, then the socket,
// whose hang-up the daemon watches for.
func (c *Client) closeStreams() error {
	if c.piped {
		c.in.Close()
		c.out.Close()
	}
	return c.c.Close()
}

// Close closes the connection; the daemon removes its watches and lets go
// of its session. Calls in progress return ErrClosed.
func (c *Client) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closing)
		err = c.closeStreams()
	})
	// The turn's holder sees the connection close and ends the client;
	// with nobody reading, Close ends it, and keeps the turn.
	select {
	case <-c.turn:
		c.end(ErrClosed)
	case <-c.done:
	}
	c.streamer.Wait()
	return err
}

// end records why the connection ended, unless that is known already, and
// wakes the calls waiting. After Close the reason is ErrClosed.
func (c *Client) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	select {
	case <-c.closing:
		err = ErrClosed
	default:
	}
	c.err = err
	c.ended = true
	close(c.done)
}

// stream starts the reader goroutine, once: from now on the socket is
// read whether or not a call is waiting for a reply, as it must be once
// records may come at any time, or a write is waiting for room.
func (c *Client) stream() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.streaming || c.ended {
		return
	}
	select {
	case <-c.closing:
		return // Close may be waiting on streamer already
	default:
	}
	c.streaming = true
	c.streamer.Add(1)
	go c.read()
}

// read takes the read turn for good and demultiplexes the daemon's frames:
// replies to their callers, records to Records.
func (c *Client) read() {
	defer c.streamer.Done()
	select {
	case <-c.turn:
	case <-c.done:
		return
	}
	var bad error // a frame the daemon should not have sent
	err := c.rr.fr.run(c.rc, frameHandler{
		frame: func(f wire.Frame, err error) bool {
			if err == nil {
				err = c.dispatch(f)
			}
			if err != nil {
				bad = err
				return false
			}
			return true
		},
		// The reader writes nothing, so it has no proof that the daemon
		// is still there, and reads until EAGAIN (see frameReader).
		idle: func() (ok, wrote bool) { return true, false },
	})
	switch {
	case errors.Is(bad, ErrClosed):
		err = ErrClosed // stopped by Close while handing a record over
	case bad != nil:
		// The stream can no longer be trusted to be at a frame
		// boundary; the calls waiting learn why.
		err = bad
		c.closeStreams()
	default:
		err = fmt.Errorf("daemon: connection lost: %w", err)
	}
	c.end(err)
}

// dispatch hands a frame that is not the holder's own reply on: a reply
// to the call waiting for it, a record to Records. A record waits for
// room, which is what stops the reading when Records is not drained;
// Close ends the wait, with ErrClosed. Any other frame is EPROTO.
func (c *Client) dispatch(f wire.Frame) error {
	switch f.Kind {
	case wire.KindReply:
		c.mu.Lock()
		ch := c.pending[f.ID]
		delete(c.pending, f.ID)
		c.mu.Unlock()
		if ch != nil { // nil: the caller gave up
			// A copy: the caller keeps the body, and the reader's buffer
			// is reused.
			ch <- bytes.Clone(f.Body)
		}
	case wire.KindRecord:
		select {
		case c.records <- bytes.Clone(f.Body):
		case <-c.closing:
			return ErrClosed
		}
	default:
		return fmt.Errorf("daemon: daemon sent a %v frame: %w", f.Kind, unix.EPROTO)
	}
	return nil
}

// replyChans recycles the channels calls wait on for their reply, so a
// call allocates none. A channel goes back only once its reply has been
// received: one a call gave up on may still get a late send.
var replyChans = sync.Pool{New: func() any { return make(chan []byte, 1) }}

// callBufs recycles what calls encode their requests into and decode
// their replies with, so that neither allocates.
var callBufs = sync.Pool{New: func() any { return new(callBuf) }}

type callBuf struct {
	req wire.Encoder
	rep wire.Decoder
}

// keepRequestBuffer is the largest request buffer put back in callBufs
// (bytes): an Add of a big payload should not leave a megabyte pooled.
const keepRequestBuffer = 16 << 10

func (b *callBuf) release() {
	if cap(b.req.B) > keepRequestBuffer {
		b.req.B = nil
	}
	b.req.B = b.req.B[:0]
	callBufs.Put(b)
}

// call sends req as op and decodes the reply into res: the transport
// under operation.call, which is how the Client's methods call it.
func (c *Client) call(ctx context.Context, op wire.Op, req, res wire.Message) error {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.next++
	id := c.next
	c.mu.Unlock()

	buf := callBufs.Get().(*callBuf)
	defer buf.release()
	if err := buf.req.Request(id, op, req); err != nil {
		return fmt.Errorf("daemon: %s request: %w", opName(op), err)
	}
	body, err := c.roundTrip(ctx, op, id, buf.req.B)
	if err != nil {
		return err
	}
	errno, msg, err := buf.rep.DecodeReply(body, res)
	if err != nil {
		return fmt.Errorf("daemon: %s reply: %w", opName(op), err)
	}
	if errno != 0 {
		return &Error{Op: opName(op), Errno: errno, Message: msg}
	}
	return nil
}

// roundTrip writes request b of call id and returns the reply's body.
// With the read turn free, it writes and reads itself; otherwise it
// writes, and waits for the reply to be handed over, or for the turn.
func (c *Client) roundTrip(ctx context.Context, op wire.Op, id uint32, b []byte) ([]byte, error) {
	var u unsent
	select {
	case <-c.turn:
		var body []byte
		var err error
		body, u, err = c.rr.readReply(ctx, op, id, b)
		if u.rest == nil {
			c.turn <- struct{}{}
			return body, err
		}
		if u.full {
			// The write is going to wait for room, and the daemon may be
			// waiting for this side to read first.
			c.stream()
		}
	default:
	}

	// Not the holder, or a holder whose request could not all go out at
	// once: that call lets the turn go before it waits to write, so that
	// the daemon's replies are read meanwhile, and waits for its reply
	// like any other. The reply can come only once the request is out.
	ch := replyChans.Get().(chan []byte)
	c.mu.Lock()
	c.pending[id] = ch
	c.mu.Unlock()
	var err error
	sent := 0 // bytes of this request written here
	switch {
	case u.partial:
		c.turn <- struct{}{}
		_, err = c.writeLocked(ctx, u.rest)
		c.wmu.Unlock()
	case u.rest != nil:
		c.turn <- struct{}{}
		sent, err = c.write(ctx, b)
	default:
		sent, err = c.write(ctx, b)
	}
	if err != nil {
		c.forget(id)
		if sent == 0 && !u.partial && ctx.Err() != nil {
			// Given up on before a byte of it went out: the stream is
			// still at a frame boundary, and the connection serves on.
			return nil, ctx.Err()
		}
		return nil, c.writeFailed(ctx, op, err)
	}
	return c.await(ctx, op, id, ch)
}

// forget drops call id's entry, so that a reply that comes after all is
// dropped.
func (c *Client) forget(id uint32) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// await waits for the reply to call id, whose request is out, in ch; if
// the read turn comes free first, it reads the reply itself.
func (c *Client) await(ctx context.Context, op wire.Op, id uint32, ch chan []byte) ([]byte, error) {
	// ctx.Done() is nil for a context that cannot end; a nil channel in
	// the select never fires.
	select {
	case body := <-ch:
		replyChans.Put(ch)
		return body, nil
	case <-c.turn:
		defer func() { c.turn <- struct{}{} }()
		// The holder before may have handed the reply over before it let
		// the turn go.
		select {
		case body := <-ch:
			replyChans.Put(ch)
			return body, nil
		default:
		}
		// Nobody else hands replies over while this call holds the turn,
		// so ch stays empty and can go back.
		body, _, err := c.rr.readReply(ctx, op, id, nil)
		c.forget(id)
		replyChans.Put(ch)
		return body, err
	case <-ctx.Done():
		c.forget(id)
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.doneErr()
	}
}

// readFailed is what the call holding the read turn returns when its read
// stops short of the reply: ctx's error if ctx woke it, else why the
// connection ended, which it ends. bad is a frame the daemon should not
// have sent (the stream is lost), or ErrClosed from dispatch; rerr is the
// read's error.
func (c *Client) readFailed(ctx context.Context, bad, rerr error) error {
	switch {
	case errors.Is(rerr, os.ErrDeadlineExceeded) && ctx.Err() != nil:
		return ctx.Err() // the connection is fine; a late reply is dropped
	case errors.Is(bad, ErrClosed):
		c.end(ErrClosed)
	case bad != nil:
		c.closeStreams()
		c.end(bad)
	default:
		c.end(fmt.Errorf("daemon: connection lost: %w", rerr))
	}
	return c.doneErr()
}

// write writes one request frame whole, and says how much of it went out.
func (c *Client) write(ctx context.Context, b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(ctx, b)
}

// writeLocked is write with wmu held. A write that ctx cuts short may
// leave half a frame on the socket, after which the stream cannot be
// trusted: the caller closes the connection on an error (writeFailed),
// unless nothing of the frame went out.
//
// A write that has to wait for room first starts the reader goroutine:
// the daemon may be waiting to write replies before it reads on, and a
// call reading its own reply reads only until it has it.
func (c *Client) writeLocked(ctx context.Context, b []byte) (sent int, err error) {
	var stop func() bool
	var fired chan struct{}
	if ctx.Done() != nil {
		fired = make(chan struct{})
		stop = context.AfterFunc(ctx, func() {
			c.out.SetWriteDeadline(time.Unix(1, 0))
			close(fired)
		})
	}
	var werr error
	err = c.wrc.Write(func(fd uintptr) bool {
		n, err := writeSome(int(fd), b)
		b = b[n:]
		sent += n
		switch {
		case err != nil:
			werr = err
			return true
		case len(b) == 0:
			return true
		}
		c.stream()
		return false // wait for room
	})
	if werr != nil {
		err = werr
	}
	if stop != nil && !stop() {
		// ctx ended around the write; if the connection goes on (the
		// write made it whole, or never started), lift the deadline once
		// it is surely set, for the next caller.
		<-fired
		if err == nil || sent == 0 {
			c.out.SetWriteDeadline(time.Time{})
		}
	}
	return sent, err
}

// writeFailed closes the connection after a request's write failed, since
// part of the frame may be out, and returns the call's error.
func (c *Client) writeFailed(ctx context.Context, op wire.Op, err error) error {
	c.closeStreams()
	c.end(fmt.Errorf("daemon: connection lost: %w", err))
	select {
	case <-c.closing:
		return ErrClosed
	default:
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("daemon: %s: %w", opName(op), err)
}

func (c *Client) doneErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Records returns an iterator over the records the connection's watches
// deliver, decoded, in the order the daemon's queue held them, loss
// records included. It ends after yielding ctx.Err() when ctx is done,
// after yielding the cause if the connection breaks, and quietly after
// Close. Records arrive in batches: breaking out of the loop drops the
// rest of the batch, so break only when done with the watches.
func (c *Client) Records(ctx context.Context) iter.Seq2[watchqueue.Record, error] {
	return func(yield func(watchqueue.Record, error) bool) {
		// Someone reads the socket from now on, so that a connection that
		// breaks ends the iteration even while no call is made.
		c.stream()
		for {
			var b []byte
			select {
			case b = <-c.records:
			case <-ctx.Done():
				yield(nil, ctx.Err())
				return
			case <-c.done:
				// Deliver what arrived before the end first.
				select {
				case b = <-c.records:
				default:
					if err := c.doneErr(); !errors.Is(err, ErrClosed) {
						yield(nil, err)
					}
					return
				}
			}
			for len(b) > 0 {
				r, n, err := watchqueue.Decode(b, c.revisions.Load())
				if err != nil {
					yield(nil, fmt.Errorf("daemon: record: %w", err))
					return
				}
				b = b[n:]
				if !yield(r, nil) {
					return
				}
			}
		}
	}
}

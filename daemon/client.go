package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
	"github.com/keyctl-go/keyctl-go/wire"
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
	Op      wire.Op
	Errno   unix.Errno
	Message string // the daemon's message, naming the operation and ids
}

func (e *Error) Error() string {
	if e.Message != "" {
		return "daemon: " + e.Message
	}
	return fmt.Sprintf("daemon: %v: %v", e.Op, e.Errno)
}

func (e *Error) Unwrap() error { return e.Errno }

// Client is a connection to a daemon. Its methods mirror keyring.Process
// and act as the process that dialled, as the kernel identifies it to the
// daemon: it is a keyring.Caller, so a program written against that
// interface runs on the daemon or on a store of its own alike. It is safe
// for concurrent use; the daemon answers one call at a time, in order.
type Client struct {
	c       *net.UnixConn
	records chan []byte
	done    chan struct{} // closed when the reader has returned
	closing chan struct{} // closed by Close
	once    sync.Once

	wmu sync.Mutex // serialises frame writes

	// mu guards pending, next and err.
	mu      sync.Mutex
	pending map[uint32]chan []byte
	next    uint32
	err     error // why the reader stopped
}

// Dial connects to the daemon at path.
func Dial(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("daemon: dial %s: %w", path, err)
	}
	c := &Client{
		c:       nc.(*net.UnixConn),
		records: make(chan []byte, recordBacklog),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
		pending: make(map[uint32]chan []byte),
	}
	go c.read()
	return c, nil
}

// Close closes the connection; the daemon removes its watches and lets go
// of its session. Calls in progress return ErrClosed.
func (c *Client) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closing)
		err = c.c.Close()
	})
	<-c.done
	return err
}

// read demultiplexes the daemon's frames: replies to their callers,
// records to Records.
func (c *Client) read() {
	var err error
	defer func() {
		c.mu.Lock()
		select {
		case <-c.closing:
			err = ErrClosed
		default:
		}
		c.err = err
		c.mu.Unlock()
		close(c.done)
	}()
	rc, err := c.c.SyscallConn()
	if err != nil {
		err = fmt.Errorf("daemon: connection lost: %w", err)
		return
	}
	var bad error // a frame the daemon should not have sent
	err = newFrameReader(clientReadBuffer).run(rc, frameHandler{
		frame: func(f wire.Frame, err error) bool {
			if err != nil {
				bad = err
				return false
			}
			switch f.Kind {
			case wire.KindReply:
				c.mu.Lock()
				ch := c.pending[f.ID]
				delete(c.pending, f.ID)
				c.mu.Unlock()
				if ch != nil { // nil: the caller gave up
					// A copy: the caller keeps the body, and the
					// reader's buffer is reused.
					ch <- bytes.Clone(f.Body)
				}
			case wire.KindRecord:
				select {
				case c.records <- bytes.Clone(f.Body):
				case <-c.closing:
					return false
				}
			default:
				bad = fmt.Errorf("daemon: daemon sent a %v frame: %w", f.Kind, unix.EPROTO)
				return false
			}
			return true
		},
		// The reader writes nothing, so it has no proof that the daemon
		// is still there, and reads until EAGAIN (see frameReader).
		idle: func() (ok, wrote bool) { return true, false },
	})
	switch {
	case bad != nil:
		// The stream can no longer be trusted to be at a frame
		// boundary; the calls waiting learn why.
		err = bad
		c.c.Close()
	case err == nil:
		err = ErrClosed // stopped by Close while handing a record over
	default:
		err = fmt.Errorf("daemon: connection lost: %w", err)
	}
}

// replyChans recycles the channels calls wait on for their reply, so a
// call allocates none. A channel goes back only once its reply has been
// received: one a call gave up on may still get a late send.
var replyChans = sync.Pool{New: func() any { return make(chan []byte, 1) }}

// requestBufs recycles the buffers requests are encoded into.
var requestBufs = sync.Pool{New: func() any { return new([]byte) }}

// keepRequestBuffer is the largest request buffer put back in requestBufs
// (bytes): an Add of a big payload should not leave a megabyte pooled.
const keepRequestBuffer = 16 << 10

// call sends req as op and decodes the reply into res.
func (c *Client) call(ctx context.Context, op wire.Op, req, res wire.Message) error {
	ch := replyChans.Get().(chan []byte)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		replyChans.Put(ch)
		return err
	}
	c.next++
	id := c.next
	c.pending[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}

	bp := requestBufs.Get().(*[]byte)
	b, err := wire.AppendRequest((*bp)[:0], id, op, req)
	if err != nil {
		requestBufs.Put(bp)
		forget()
		return err
	}
	err = c.write(ctx, b)
	if cap(b) <= keepRequestBuffer {
		*bp = b
		requestBufs.Put(bp)
	}
	if err != nil {
		forget()
		c.c.Close()
		select {
		case <-c.closing:
			return ErrClosed
		default:
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("daemon: %v: %w", op, err)
	}

	// ctx.Done() is nil for a context that cannot end; a nil channel in
	// the select never fires.
	select {
	case body := <-ch:
		replyChans.Put(ch)
		errno, msg, err := wire.DecodeReply(body, res)
		if err != nil {
			return fmt.Errorf("daemon: %v reply: %w", op, err)
		}
		if errno != 0 {
			return &Error{Op: op, Errno: errno, Message: msg}
		}
		return nil
	case <-ctx.Done():
		forget()
		return ctx.Err()
	case <-c.done:
		return c.doneErr()
	}
}

// write writes one request frame whole. A write that ctx cuts short may
// leave half a frame on the socket, after which the stream cannot be
// trusted: the caller closes the connection on an error.
func (c *Client) write(ctx context.Context, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if ctx.Done() == nil {
		// Nothing can cut the write short: no deadline to arm.
		_, err := c.c.Write(b)
		return err
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.c.SetWriteDeadline(time.Unix(1, 0))
		close(fired)
	})
	_, err := c.c.Write(b)
	if !stop() {
		// ctx ended around the write; if the write still made it whole,
		// lift the deadline once it is surely set, for the next caller.
		<-fired
		if err == nil {
			c.c.SetWriteDeadline(time.Time{})
		}
	}
	return err
}

func (c *Client) doneErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Add is keyring.Process.Add: add_key.
func (c *Client) Add(ctx context.Context, typ, desc string, payload []byte, ring keyring.Serial) (keyring.Serial, error) {
	var res wire.SerialReply
	err := c.call(ctx, wire.OpAdd, &wire.AddRequest{Type: typ, Description: desc, Payload: payload, Ring: int32(ring)}, &res)
	return keyring.Serial(res.Serial), err
}

// Read is keyring.Process.Read: KEYCTL_READ.
func (c *Client) Read(ctx context.Context, id keyring.Serial) ([]byte, error) {
	var res wire.DataReply
	if err := c.call(ctx, wire.OpRead, &wire.KeyRequest{ID: int32(id)}, &res); err != nil {
		return nil, err
	}
	return res.Data, nil
}

// Describe is keyring.Process.Describe: KEYCTL_DESCRIBE.
func (c *Client) Describe(ctx context.Context, id keyring.Serial) (keyring.Description, error) {
	var res wire.DescribeReply
	if err := c.call(ctx, wire.OpDescribe, &wire.KeyRequest{ID: int32(id)}, &res); err != nil {
		return keyring.Description{}, err
	}
	return keyring.Description{Type: res.Type, UID: res.UID, GID: res.GID, Perm: perms.Mask(res.Perm), Description: res.Description}, nil
}

// Search is keyring.Process.Search: KEYCTL_SEARCH.
func (c *Client) Search(ctx context.Context, ring keyring.Serial, typ, desc string, dest keyring.Serial) (keyring.Serial, error) {
	var res wire.SerialReply
	err := c.call(ctx, wire.OpSearch, &wire.SearchRequest{Ring: int32(ring), Type: typ, Description: desc, Dest: int32(dest)}, &res)
	return keyring.Serial(res.Serial), err
}

// Link is keyring.Process.Link: KEYCTL_LINK.
func (c *Client) Link(ctx context.Context, key, ring keyring.Serial) error {
	return c.call(ctx, wire.OpLink, &wire.LinkRequest{Key: int32(key), Ring: int32(ring)}, &wire.Empty{})
}

// Unlink is keyring.Process.Unlink: KEYCTL_UNLINK.
func (c *Client) Unlink(ctx context.Context, key, ring keyring.Serial) error {
	return c.call(ctx, wire.OpUnlink, &wire.LinkRequest{Key: int32(key), Ring: int32(ring)}, &wire.Empty{})
}

// Update is keyring.Process.Update: KEYCTL_UPDATE.
func (c *Client) Update(ctx context.Context, id keyring.Serial, payload []byte) error {
	return c.call(ctx, wire.OpUpdate, &wire.UpdateRequest{ID: int32(id), Payload: payload}, &wire.Empty{})
}

// Revoke is keyring.Process.Revoke: KEYCTL_REVOKE.
func (c *Client) Revoke(ctx context.Context, id keyring.Serial) error {
	return c.call(ctx, wire.OpRevoke, &wire.KeyRequest{ID: int32(id)}, &wire.Empty{})
}

// Invalidate is keyring.Process.Invalidate: KEYCTL_INVALIDATE.
func (c *Client) Invalidate(ctx context.Context, id keyring.Serial) error {
	return c.call(ctx, wire.OpInvalidate, &wire.KeyRequest{ID: int32(id)}, &wire.Empty{})
}

// GetKeyringID is keyring.Process.GetKeyringID: KEYCTL_GET_KEYRING_ID.
// The thread and process keyrings it makes belong to the connection.
func (c *Client) GetKeyringID(ctx context.Context, id keyring.Serial, create bool) (keyring.Serial, error) {
	var res wire.SerialReply
	err := c.call(ctx, wire.OpGetKeyringID, &wire.GetKeyringIDRequest{ID: int32(id), Create: create}, &res)
	return keyring.Serial(res.Serial), err
}

// KeyringID is keyring.Process.KeyringID: GetKeyringID without create.
func (c *Client) KeyringID(ctx context.Context, id keyring.Serial) (keyring.Serial, error) {
	return c.GetKeyringID(ctx, id, false)
}

// JoinSession is keyring.Process.JoinSession; the session is the
// connection's.
func (c *Client) JoinSession(ctx context.Context, name string) (keyring.Serial, error) {
	var res wire.SerialReply
	err := c.call(ctx, wire.OpJoinSession, &wire.JoinSessionRequest{Name: name}, &res)
	return keyring.Serial(res.Serial), err
}

// AdoptSession is keyring.Process.AdoptSession.
func (c *Client) AdoptSession(ctx context.Context, id keyring.Serial) error {
	return c.call(ctx, wire.OpAdoptSession, &wire.KeyRequest{ID: int32(id)}, &wire.Empty{})
}

// Keys is keyring.Process.Keys: the keys a keyring holds, in the store's
// order.
func (c *Client) Keys(ctx context.Context, ring keyring.Serial) ([]keyring.Serial, error) {
	var res wire.SerialsReply
	if err := c.call(ctx, wire.OpKeys, &wire.KeyRequest{ID: int32(ring)}, &res); err != nil {
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
	return c.call(ctx, wire.OpMove, &wire.MoveRequest{Key: int32(key), From: int32(from), To: int32(to), Flags: uint32(flags)}, &wire.Empty{})
}

// Clear is keyring.Process.Clear: KEYCTL_CLEAR.
func (c *Client) Clear(ctx context.Context, ring keyring.Serial) error {
	return c.call(ctx, wire.OpClear, &wire.KeyRequest{ID: int32(ring)}, &wire.Empty{})
}

// SetTimeout is keyring.Process.SetTimeout: KEYCTL_SET_TIMEOUT. d goes to
// the daemon as it is, and the store rounds it.
func (c *Client) SetTimeout(ctx context.Context, id keyring.Serial, d time.Duration) error {
	return c.call(ctx, wire.OpSetTimeout, &wire.SetTimeoutRequest{ID: int32(id), Timeout: int64(d)}, &wire.Empty{})
}

// SetPerm is keyring.Process.SetPerm: KEYCTL_SETPERM.
func (c *Client) SetPerm(ctx context.Context, id keyring.Serial, m perms.Mask) error {
	return c.call(ctx, wire.OpSetPerm, &wire.SetPermRequest{ID: int32(id), Perm: uint32(m)}, &wire.Empty{})
}

// Chown is keyring.Process.Chown: KEYCTL_CHOWN. Whether the caller may
// give a key away is decided by the uid the kernel gave the daemon.
func (c *Client) Chown(ctx context.Context, id keyring.Serial, uid, gid uint32) error {
	return c.call(ctx, wire.OpChown, &wire.ChownRequest{ID: int32(id), UID: uid, GID: gid}, &wire.Empty{})
}

// Restrict is keyring.Process.Restrict: KEYCTL_RESTRICT_KEYRING.
func (c *Client) Restrict(ctx context.Context, ring keyring.Serial, typ, restriction string) error {
	return c.call(ctx, wire.OpRestrict, &wire.RestrictRequest{Ring: int32(ring), Type: typ, Restriction: restriction}, &wire.Empty{})
}

// RequestKey is keyring.Process.RequestKey: request_key, searching the
// connection's thread, process and session keyrings.
func (c *Client) RequestKey(ctx context.Context, typ, desc string, dest keyring.Serial) (keyring.Serial, error) {
	var res wire.SerialReply
	err := c.call(ctx, wire.OpRequestKey, &wire.RequestKeyRequest{Type: typ, Description: desc, Dest: int32(dest)}, &res)
	return keyring.Serial(res.Serial), err
}

// GetPersistent is keyring.Process.GetPersistent: KEYCTL_GET_PERSISTENT.
func (c *Client) GetPersistent(ctx context.Context, uid uint32, dest keyring.Serial) (keyring.Serial, error) {
	var res wire.SerialReply
	err := c.call(ctx, wire.OpGetPersistent, &wire.GetPersistentRequest{UID: uid, Dest: int32(dest)}, &res)
	return keyring.Serial(res.Serial), err
}

// PinSession is keyring.Process.PinSession on the connection's session.
// The pin is stored: it outlives the connection, until UnpinSession.
func (c *Client) PinSession(ctx context.Context) (keyring.Serial, error) {
	var res wire.SerialReply
	err := c.call(ctx, wire.OpPinSession, &wire.Empty{}, &res)
	return keyring.Serial(res.Serial), err
}

// UnpinSession is keyring.Process.UnpinSession.
func (c *Client) UnpinSession(ctx context.Context, id keyring.Serial) error {
	return c.call(ctx, wire.OpUnpinSession, &wire.KeyRequest{ID: int32(id)}, &wire.Empty{})
}

// Watch is keyring.Process.Watch on the connection's queue, which the
// daemon makes on the first call: tag 0..255 sets a watch on id, -1
// removes it. Read what it delivers with Records.
func (c *Client) Watch(ctx context.Context, id keyring.Serial, tag int) error {
	if tag < -1 || tag > 255 {
		return fmt.Errorf("daemon: watch %v: tag %d outside -1..255: %w", id, tag, unix.EINVAL)
	}
	return c.call(ctx, wire.OpWatch, &wire.WatchRequest{ID: int32(id), Tag: int32(tag)}, &wire.Empty{})
}

// Records returns an iterator over the records the connection's watches
// deliver, decoded, in the order the daemon's queue held them, loss
// records included. It ends after yielding ctx.Err() when ctx is done,
// after yielding the cause if the connection breaks, and quietly after
// Close. Records arrive in batches: breaking out of the loop drops the
// rest of the batch, so break only when done with the watches.
func (c *Client) Records(ctx context.Context) iter.Seq2[watchqueue.Record, error] {
	return func(yield func(watchqueue.Record, error) bool) {
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
				r, n, err := watchqueue.Decode(b, false)
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

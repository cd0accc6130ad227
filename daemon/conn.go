package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
	"github.com/keyctl-go/keyctl-go/wire"
)

// keepReadBuffer is the largest request buffer a connection keeps between
// calls (bytes): one big_key payload may need 1 MiB, but an idle
// connection should not go on holding it.
const keepReadBuffer = 64 << 10

// conn is one client connection: a reader goroutine that decodes requests
// and calls the store (serve), and a writer goroutine that is the only one
// to write to the socket (write), so that neither the store nor the reader
// ever waits on a slow client.
type conn struct {
	s    *Server
	c    *net.UnixConn
	peer peerCred
	proc *keyring.Process

	out        chan []byte            // encoded reply frames, reader to writer
	queues     chan *watchqueue.Queue // the watch queue, handed to the writer once
	writerDone chan struct{}          // closed when the writer returns
	q          *watchqueue.Queue      // the reader's view of the watch queue
}

func newConn(s *Server, c *net.UnixConn, p peerCred) *conn {
	return &conn{
		s:          s,
		c:          c,
		peer:       p,
		proc:       s.store.Process(p.Cred),
		out:        make(chan []byte, 1),
		queues:     make(chan *watchqueue.Queue, 1),
		writerDone: make(chan struct{}),
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
	r := bufio.NewReader(c.c)
	var buf []byte
	for {
		f, b, err := wire.ReadFrame(r, buf)
		buf = b
		if err != nil {
			var ioErr *net.OpError
			switch {
			case errors.As(err, &ioErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				// The connection failed or the client went, perhaps in
				// the middle of a frame: nobody to answer.
				if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
					c.s.log.Info("daemon: read", "pid", c.peer.PID, "err", err)
				}
			default:
				// A frame this side cannot make sense of: say why, then
				// hang up, since the stream can no longer be trusted to
				// be at a frame boundary.
				c.s.log.Info("daemon: bad frame", "pid", c.peer.PID, "err", err)
				c.send(c.reply(f.ID, f.Op, err, nil))
			}
			return
		}
		if f.Kind != wire.KindRequest {
			c.send(c.reply(f.ID, f.Op, fmt.Errorf("daemon: client sent a %v frame: %w", f.Kind, unix.EPROTO), nil))
			return
		}
		if !c.send(c.handle(ctx, f)) {
			return
		}
		if cap(buf) > keepReadBuffer {
			buf = nil
		}
	}
}

// send hands a reply to the writer; false once the writer has gone.
func (c *conn) send(b []byte) bool {
	select {
	case c.out <- b:
		return true
	case <-c.writerDone:
		return false
	}
}

// teardown ends the connection: the queue first, so that its watches
// and their quota are gone by the time the client sees the socket close;
// then the owed replies, within the drain timeout; then the socket and
// the process.
func (c *conn) teardown(ctx context.Context) {
	if c.q != nil {
		c.q.Close()
	}
	c.c.SetWriteDeadline(time.Now().Add(c.s.opts.DrainTimeout))
	close(c.out)
	<-c.writerDone
	c.c.Close()
	if err := c.proc.Release(ctx); err != nil {
		c.s.log.Warn("daemon: release", "pid", c.peer.PID, "err", err)
	}
	c.s.remove(c)
}

// write is the connection's only writer: replies from the reader, and
// records from the watch queue as they come. It returns when the reader
// closes out, or when a write fails, after which it closes the socket so
// that the reader stops too.
func (c *conn) write() {
	defer close(c.writerDone)
	var (
		q     *watchqueue.Queue
		ready <-chan struct{}
		rec   []byte
	)
	for {
		select {
		case b, ok := <-c.out:
			if !ok {
				return
			}
			if _, err := c.c.Write(b); err != nil {
				c.c.Close()
				return
			}
			continue
		case q = <-c.queues:
			ready = q.Ready()
			rec = make([]byte, watchqueue.ReadBufferSize)
		case <-ready:
		}
		// Drain the queue: Ready is edge-triggered.
		for {
			n, err := q.TryRead(rec)
			if err != nil {
				if !errors.Is(err, unix.EAGAIN) {
					ready = nil // closed: the connection is going
				}
				break
			}
			b, _ := wire.Frame{Kind: wire.KindRecord, Op: wire.OpWatch, Body: rec[:n]}.Append(nil)
			if _, err := c.c.Write(b); err != nil {
				c.c.Close()
				return
			}
		}
	}
}

// reply encodes a reply frame for request id. err's errno goes on the
// wire with its message; an error without one is EIO.
func (c *conn) reply(id uint32, op wire.Op, err error, res wire.Message) []byte {
	var errno unix.Errno
	msg := ""
	if err != nil {
		if !errors.As(err, &errno) || errno == 0 {
			errno = unix.EIO
		}
		msg = err.Error()
	}
	b, ferr := wire.Frame{Kind: wire.KindReply, ID: id, Op: op, Body: wire.EncodeReply(nil, errno, msg, res)}.Append(nil)
	if ferr != nil {
		b, _ = wire.Frame{Kind: wire.KindReply, ID: id, Op: op, Body: wire.EncodeReply(nil, unix.EMSGSIZE, ferr.Error(), nil)}.Append(nil)
	}
	return b
}

// handle decodes one request, calls the store, and encodes the reply.
func (c *conn) handle(ctx context.Context, f wire.Frame) []byte {
	req, err := wire.NewRequest(f.Op)
	if err != nil {
		return c.reply(f.ID, f.Op, err, nil)
	}
	if err := wire.Decode(f.Body, req); err != nil {
		return c.reply(f.ID, f.Op, fmt.Errorf("daemon: %v request: %w", f.Op, err), nil)
	}
	res, err := c.call(ctx, f.Op, req)
	return c.reply(f.ID, f.Op, err, res)
}

// call runs one operation as the connection's process.
func (c *conn) call(ctx context.Context, op wire.Op, req wire.Message) (wire.Message, error) {
	p := c.proc
	switch r := req.(type) {
	case *wire.AddRequest:
		id, err := p.Add(ctx, r.Type, r.Description, r.Payload, keyring.Serial(r.Ring))
		return &wire.SerialReply{Serial: int32(id)}, err
	case *wire.SearchRequest:
		id, err := p.Search(ctx, keyring.Serial(r.Ring), r.Type, r.Description, keyring.Serial(r.Dest))
		return &wire.SerialReply{Serial: int32(id)}, err
	case *wire.LinkRequest:
		if op == wire.OpLink {
			return &wire.Empty{}, p.Link(ctx, keyring.Serial(r.Key), keyring.Serial(r.Ring))
		}
		return &wire.Empty{}, p.Unlink(ctx, keyring.Serial(r.Key), keyring.Serial(r.Ring))
	case *wire.UpdateRequest:
		return &wire.Empty{}, p.Update(ctx, keyring.Serial(r.ID), r.Payload)
	case *wire.GetKeyringIDRequest:
		id, err := p.GetKeyringID(ctx, keyring.Serial(r.ID), r.Create)
		return &wire.SerialReply{Serial: int32(id)}, err
	case *wire.JoinSessionRequest:
		id, err := p.JoinSession(ctx, r.Name)
		return &wire.SerialReply{Serial: int32(id)}, err
	case *wire.MoveRequest:
		return &wire.Empty{}, p.Move(ctx, keyring.Serial(r.Key), keyring.Serial(r.From), keyring.Serial(r.To), uint(r.Flags))
	case *wire.SetTimeoutRequest:
		return &wire.Empty{}, p.SetTimeout(ctx, keyring.Serial(r.ID), time.Duration(r.Timeout))
	case *wire.SetPermRequest:
		return &wire.Empty{}, p.SetPerm(ctx, keyring.Serial(r.ID), perms.Mask(r.Perm))
	case *wire.ChownRequest:
		return &wire.Empty{}, p.Chown(ctx, keyring.Serial(r.ID), r.UID, r.GID)
	case *wire.RestrictRequest:
		return &wire.Empty{}, p.Restrict(ctx, keyring.Serial(r.Ring), r.Type, r.Restriction)
	case *wire.RequestKeyRequest:
		id, err := p.RequestKey(ctx, r.Type, r.Description, keyring.Serial(r.Dest))
		return &wire.SerialReply{Serial: int32(id)}, err
	case *wire.GetPersistentRequest:
		id, err := p.GetPersistent(ctx, r.UID, keyring.Serial(r.Dest))
		return &wire.SerialReply{Serial: int32(id)}, err
	case *wire.Empty:
		if op == wire.OpPinSession {
			// The pin is stored, not the connection's: it outlives the
			// connection until someone unpins it, as it outlives a process.
			id, err := p.PinSession(ctx)
			return &wire.SerialReply{Serial: int32(id)}, err
		}
	case *wire.WatchRequest:
		q, err := c.queue()
		if err != nil {
			return nil, err
		}
		return &wire.Empty{}, p.Watch(ctx, keyring.Serial(r.ID), q, int(r.Tag))
	case *wire.KeyRequest:
		id := keyring.Serial(r.ID)
		switch op {
		case wire.OpRead:
			data, err := p.Read(ctx, id)
			return &wire.DataReply{Data: data}, err
		case wire.OpDescribe:
			d, err := p.Describe(ctx, id)
			return &wire.DescribeReply{Type: d.Type, UID: d.UID, GID: d.GID, Perm: uint32(d.Perm), Description: d.Description}, err
		case wire.OpRevoke:
			return &wire.Empty{}, p.Revoke(ctx, id)
		case wire.OpInvalidate:
			return &wire.Empty{}, p.Invalidate(ctx, id)
		case wire.OpAdoptSession:
			return &wire.Empty{}, p.AdoptSession(ctx, id)
		case wire.OpKeys:
			ids, err := p.Keys(ctx, id)
			serials := make([]int32, len(ids))
			for i, k := range ids {
				serials[i] = int32(k)
			}
			return &wire.SerialsReply{Serials: serials}, err
		case wire.OpClear:
			return &wire.Empty{}, p.Clear(ctx, id)
		case wire.OpUnpinSession:
			return &wire.Empty{}, p.UnpinSession(ctx, id)
		}
	}
	// NewRequest and this switch disagree: a bug here, not the client's.
	panic(fmt.Sprintf("daemon: no handler for %v", op))
}

// queue returns the connection's watch queue, making it on first use and
// handing it to the writer, which streams what it holds.
func (c *conn) queue() (*watchqueue.Queue, error) {
	if c.q != nil {
		return c.q, nil
	}
	q := watchqueue.New(watchqueue.Options{})
	if err := q.SetSize(c.s.opts.QueueSize); err != nil {
		return nil, fmt.Errorf("daemon: sizing the watch queue: %w", err)
	}
	c.q = q
	c.queues <- q // buffered for this one send
	return q, nil
}

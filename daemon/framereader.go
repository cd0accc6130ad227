package daemon

import (
	"encoding/binary"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/wire"
)

// growStep is the most a frameReader allocates ahead of the bytes that
// have arrived (bytes), so that a peer announcing a large frame and
// sending little costs this side little.
const growStep = 64 << 10

// frameReader reads frames off a socket, and saves a read(2) per call
// where it can.
//
// A net.Conn's Read asks the kernel first and waits for the poller only
// after an EAGAIN, because each Read starts by forgetting what the poller
// said (internal/poll's prepareRead): so a request-reply connection pays a
// read that finds nothing for every read that finds something. frameReader
// instead stays inside one syscall.RawConn.Read for the connection's life,
// where the poller's state carries over: a read that returned less than
// it asked for emptied the socket of data, and any byte that arrives after
// it raises a new edge, so it may wait for that edge without asking again.
//
// Data, but not a hang-up: the poller folds an edge that comes while it is
// waking the reader into that wake-up, and a peer that writes and then
// closes at once can have its hang-up folded into the wake-up for its
// data. The read that follows returns the data and says nothing of the
// hang-up, and no edge is left to come. So the reader waits without
// asking only when the handler says the peer was still there after that
// read: it wrote to the peer since, and the write went through, which it
// does not once the peer has closed (EPIPE). Otherwise it reads until
// EAGAIN, as Read does. A daemon answers every request, so it saves the
// read on every call; a client has no such proof and does not.
//
// Deadlines and Close wake the wait as they wake Read. The frames handed
// out alias the reader's buffer until the handler returns.
type frameReader struct {
	buf  []byte // buf[r:w] holds bytes read and not yet decoded
	r, w int
	size int // the buffer's usual capacity, shrunk back to after a large frame
}

func newFrameReader(size int) *frameReader {
	return &frameReader{buf: make([]byte, size), size: size}
}

// frameHandler gets each frame, or the error that decoding the next one
// met (f then holds what could be read of its header, for the reply);
// false stops the reader. idle is called when every frame that arrived
// has been handled and the socket may be empty, before waiting for more:
// ok false stops the reader, and wrote says that it wrote to the peer
// and the write went through, which proves the peer had not closed when
// the frames were read (see frameReader). more is asked before each
// read(2); false stops the reader too, with os.ErrDeadlineExceeded.
type frameHandler struct {
	frame func(f wire.Frame, err error) bool
	idle  func() (ok, wrote bool)
	more  func() bool
}

// run reads and hands out frames until a handler stops it (nil), after a
// decoding error (nil: the handler was told), or until the connection
// ends: io.EOF at a frame boundary, io.ErrUnexpectedEOF inside a frame,
// or the error reading or waiting met (a *net.OpError from rc for
// deadlines and Close).
func (fr *frameReader) run(rc syscall.RawConn, h frameHandler) error {
	var rerr error
	err := rc.Read(func(fd uintptr) bool {
		for {
			if h.more != nil && !h.more() {
				rerr = os.ErrDeadlineExceeded
				return true
			}
			fr.makeRoom()
			n, err := unix.Read(int(fd), fr.buf[fr.w:])
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				if ok, _ := h.idle(); !ok {
					return true
				}
				return false // wait for the poller
			case err != nil:
				rerr = os.NewSyscallError("read", err)
				return true
			case n == 0:
				rerr = io.EOF
				if fr.r != fr.w {
					rerr = io.ErrUnexpectedEOF
				}
				return true
			}
			drained := fr.w+n < len(fr.buf)
			fr.w += n
			for wire.FrameBuffered(fr.buf[fr.r:fr.w]) {
				f, m, err := wire.DecodeFrame(fr.buf[fr.r:fr.w])
				if err != nil {
					h.frame(f, err)
					return true
				}
				fr.r += m
				if !h.frame(f, nil) {
					return true
				}
			}
			if drained {
				// The socket held less than there was room for: it is
				// empty of data, and the next byte raises an edge. If
				// the peer is known to have been there since, that edge
				// is all there is to wait for.
				ok, wrote := h.idle()
				if !ok {
					return true
				}
				if wrote {
					return false
				}
			}
		}
	})
	if rerr != nil {
		return rerr
	}
	return err
}

// makeRoom makes room at buf[w:] for the next read: the rest of the frame
// in progress, if its length is known, else at least what is left of the
// usual buffer. It moves the frame in progress to the front rather than
// grow, and grows at most growStep ahead of what has arrived.
func (fr *frameReader) makeRoom() {
	if fr.r == fr.w {
		fr.r, fr.w = 0, 0
		if len(fr.buf) > fr.size {
			fr.buf = make([]byte, fr.size) // let go of a large frame's buffer
		}
		return
	}
	need := fr.size // the frame's length is not here yet
	if pending := fr.buf[fr.r:fr.w]; len(pending) >= wire.LengthSize {
		// FrameBuffered said this frame is not whole and its length is
		// within the limit.
		need = wire.LengthSize + int(binary.BigEndian.Uint32(pending))
	}
	if fr.r > 0 && (fr.w == len(fr.buf) || fr.r+need > len(fr.buf)) {
		fr.w = copy(fr.buf, fr.buf[fr.r:fr.w])
		fr.r = 0
	}
	if need > len(fr.buf) && fr.w == len(fr.buf) {
		grown := make([]byte, min(need, fr.w+growStep))
		copy(grown, fr.buf[:fr.w])
		fr.buf = grown
	}
}

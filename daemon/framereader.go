//go:build linux

package daemon

import (
	"encoding/binary"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/wire"
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
// read on every call; a client's reader goroutine has no such proof and
// does not (a call reading its own reply saves it another way: see
// replyReader).
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
	// Frames a previous reader of the socket left buffered go first.
	if stop := fr.handleBuffered(h); stop {
		return nil
	}
	var rerr error
	err := rc.Read(func(fd uintptr) bool {
		for {
			if h.more != nil && !h.more() {
				rerr = os.ErrDeadlineExceeded
				return true
			}
			drained, err := fr.fill(int(fd))
			switch {
			case err == unix.EAGAIN:
				if ok, _ := h.idle(); !ok {
					return true
				}
				return false // wait for the poller
			case err != nil:
				rerr = err
				return true
			}
			if stop := fr.handleBuffered(h); stop {
				return true
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

// handleBuffered hands out the whole frames buffered; true if the
// handler stopped the reader or a frame did not decode.
func (fr *frameReader) handleBuffered(h frameHandler) (stop bool) {
	for {
		f, ok, err := fr.next()
		switch {
		case !ok:
			return false
		case err != nil:
			h.frame(f, err)
			return true
		case !h.frame(f, nil):
			return true
		}
	}
}

// next decodes the next frame if it is buffered whole (ok), and consumes
// it. A frame that does not decode is returned with the error and left
// in place: the stream is lost.
func (fr *frameReader) next() (f wire.Frame, ok bool, err error) {
	if !wire.FrameBuffered(fr.buf[fr.r:fr.w]) {
		return wire.Frame{}, false, nil
	}
	f, m, err := wire.DecodeFrame(fr.buf[fr.r:fr.w])
	if err != nil {
		return f, true, err
	}
	fr.r += m
	return f, true, nil
}

// fill makes room and reads once from fd into the buffer. drained says
// the read took less than there was room for, so the socket is empty of
// data. Errors are unix.EAGAIN as it is, io.EOF at a frame boundary,
// io.ErrUnexpectedEOF inside a frame, or read(2)'s error.
func (fr *frameReader) fill(fd int) (drained bool, err error) {
	fr.makeRoom()
	for {
		n, err := unix.Read(fd, fr.buf[fr.w:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false, err
		case err != nil:
			return false, os.NewSyscallError("read", err)
		case n == 0:
			if fr.r != fr.w {
				return false, io.ErrUnexpectedEOF
			}
			return false, io.EOF
		}
		drained = fr.w+n < len(fr.buf)
		fr.w += n
		return drained, nil
	}
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

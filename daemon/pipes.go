//go:build linux

package daemon

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/wire"
)

// A connection's frames can leave the socket for two pipes (the pipes op, opPipes):
// one the client writes its requests to, one the daemon writes its
// replies and records to. Pipes carry the same bytes for less: on the
// development machine a write and a read take 1.4 µs on a pipe against
// 3.3 µs on a Unix socket (BenchmarkSocketSyscalls, BenchmarkPipeSyscalls),
// and those calls are most of what a read through the daemon costs.
//
// The socket still says who the client is (SO_PEERCRED, taken when it
// connected), and it stays open, carrying nothing, for the connection's
// life: its hang-up is how the daemon learns that the client has gone,
// however the client went. The pipes alone could not say so reliably:
// the daemon waits for the next request without reading again after a
// reply went through (see frameReader), which proves the reply pipe was
// open, not the request pipe, and an exiting client closes the two one
// at a time.
//
// The daemon makes the pipes and hands the client its ends with the
// reply, so it never takes descriptors from a client, and every pipe it
// reads or writes is one of its own.

// stream is what a connection reads frames from or writes them to: its
// socket (a *net.UnixConn) or one of its pipes (an *os.File).
type stream interface {
	io.Writer
	SyscallConn() (syscall.RawConn, error)
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
	Close() error
}

var (
	_ stream = (*net.UnixConn)(nil)
	_ stream = (*os.File)(nil)
)

// connPipes are the daemon's ends of a connection's pipes, and the
// client's ends, to be sent and then closed here.
type connPipes struct {
	requests *os.File // read end: the client's requests
	replies  *os.File // write end: replies and records
	client   [2]int   // the request pipe's write end, the reply pipe's read end
}

// newConnPipes makes a connection's two pipes. Every end is close-on-exec
// and non-blocking (O_NONBLOCK belongs to the open file, so the client's
// ends arrive non-blocking too, as its poller needs). sendBuffer, if not
// 0, sizes the reply pipe, as it sizes the socket's send buffer
// (Options.SendBuffer).
func newConnPipes(sendBuffer int) (*connPipes, error) {
	var req, rep [2]int
	if err := unix.Pipe2(req[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("daemon: pipe2: %w", err)
	}
	if err := unix.Pipe2(rep[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		unix.Close(req[0])
		unix.Close(req[1])
		return nil, fmt.Errorf("daemon: pipe2: %w", err)
	}
	if sendBuffer > 0 {
		// Best effort, as SO_SNDBUF is: the kernel rounds the size up to
		// a page, and keeps its own default if refused.
		unix.FcntlInt(uintptr(rep[1]), unix.F_SETPIPE_SZ, sendBuffer)
	}
	return &connPipes{
		requests: os.NewFile(uintptr(req[0]), "requests"),
		replies:  os.NewFile(uintptr(rep[1]), "replies"),
		client:   [2]int{req[1], rep[0]},
	}, nil
}

// closeClientEnds closes this process's copies of the client's ends: once
// they are sent, the client's copies are the only ones, so that the
// client's exit reads as EOF and EPIPE here.
func (p *connPipes) closeClientEnds() {
	unix.Close(p.client[0])
	unix.Close(p.client[1])
}

func (p *connPipes) close() {
	p.requests.Close()
	p.replies.Close()
}

// sendWithFDs writes frame to the socket with fds attached (SCM_RIGHTS)
// to its first byte. The socket is expected to have room: the frame is
// the reply to a connection's first request.
func sendWithFDs(uc *net.UnixConn, frame []byte, fds []int) error {
	n, _, err := uc.WriteMsgUnix(frame, unix.UnixRights(fds...), nil)
	if err != nil {
		return err
	}
	if n < len(frame) {
		_, err = uc.Write(frame[n:])
	}
	return err
}

// receivePipes reads the reply to the pipes request id from the
// socket, taking the descriptors that come with it. With the daemon's
// pipes it returns the client's ends as streams: requests to write to,
// replies to read. A daemon that answers with an error (one that does
// not know pipes answers EOPNOTSUPP) leaves the connection on the
// socket: nil streams, no error. err is for a connection that cannot go
// on.
func receivePipes(uc *net.UnixConn, id uint32) (requests, replies *os.File, err error) {
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	buf := make([]byte, 0, clientReadBuffer)
	oob := make([]byte, unix.CmsgSpace(2*4))
	for !wire.FrameBuffered(buf) {
		if len(buf) == cap(buf) {
			return nil, nil, fmt.Errorf("daemon: reply to %s over %d bytes: %w", opPipes, cap(buf), unix.EPROTO)
		}
		n, oobn, _, _, err := uc.ReadMsgUnix(buf[len(buf):cap(buf)], oob)
		if err != nil {
			return nil, nil, err
		}
		if n == 0 {
			return nil, nil, io.ErrUnexpectedEOF
		}
		buf = buf[:len(buf)+n]
		got, err := unixRights(oob[:oobn])
		fds = append(fds, got...)
		if err != nil {
			return nil, nil, err
		}
	}
	f, m, err := wire.DecodeFrame(buf)
	switch {
	case err != nil:
		return nil, nil, err
	case m != len(buf) || f.Kind != wire.KindReply || f.ID != id:
		return nil, nil, fmt.Errorf("daemon: unexpected %v frame %d answering %s: %w", f.Kind, f.ID, opPipes, unix.EPROTO)
	}
	errno, _, err := wire.DecodeReply(f.Body, &wire.Empty{})
	switch {
	case err != nil:
		return nil, nil, err
	case errno != 0:
		return nil, nil, nil // stay on the socket
	case len(fds) != 2:
		return nil, nil, fmt.Errorf("daemon: %s reply with %d descriptors, want 2: %w", opPipes, len(fds), unix.EPROTO)
	}
	requests = os.NewFile(uintptr(fds[0]), "daemon requests")
	replies = os.NewFile(uintptr(fds[1]), "daemon replies")
	fds = nil
	return requests, replies, nil
}

// unixRights returns the descriptors passed in a control message buffer.
func unixRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("daemon: control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue // not SCM_RIGHTS
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

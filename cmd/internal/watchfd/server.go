//go:build linux

package watchfd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Handler does what a request asks and returns nil or an error that
// unwraps to the errno to answer (EIO if it unwraps to none).
type Handler func(ctx context.Context, r Request) error

// Server is the watcher's end of the fd: it answers requests until
// closed.
type Server struct {
	conn   *net.UnixConn
	uid    int // whose requests are heard
	handle Handler
}

// New makes the socket pair: the Server's end, and the end to hand down,
// close-on-exec (exec.Cmd.ExtraFiles dups it for the child). The Server
// hears requests from processes of this process's uid only.
func New(handle Handler) (*Server, *os.File, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("watchfd: socketpair: %w", err)
	}
	// The kernel attaches each sender's credentials, which the server
	// checks: the fd may travel to processes of other users.
	if err := unix.SetsockoptInt(pair[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(pair[0])
		unix.Close(pair[1])
		return nil, nil, fmt.Errorf("watchfd: SO_PASSCRED: %w", err)
	}
	f := os.NewFile(uintptr(pair[0]), "watch-fd")
	c, err := net.FileConn(f) // a dup, in the runtime's poller, so Close interrupts reads
	f.Close()
	if err != nil {
		unix.Close(pair[1])
		return nil, nil, fmt.Errorf("watchfd: %w", err)
	}
	return &Server{conn: c.(*net.UnixConn), uid: os.Getuid(), handle: handle},
		os.NewFile(uintptr(pair[1]), "watch-fd-child"), nil
}

// Serve answers requests one at a time until Close. ctx is handed to the
// Handler.
func (s *Server) Serve(ctx context.Context) {
	buf := make([]byte, maxFrame)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := s.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return // closed
		}
		replyFD, uid := control(oob[:oobn])
		if replyFD < 0 {
			continue // nowhere to answer
		}
		errno := s.answer(ctx, buf[:n], uid)
		unix.Sendmsg(replyFD, appendReply(nil, errno), nil, nil, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
		unix.Close(replyFD)
	}
}

// control reads a request's control messages: the reply socket (the first
// fd passed; any others are closed, not ours to keep) and the sender's
// uid as the kernel gives it, -1 if none came.
func control(oob []byte) (replyFD, uid int) {
	replyFD, uid = -1, -1
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return replyFD, uid
	}
	for _, m := range msgs {
		if fds, err := unix.ParseUnixRights(&m); err == nil {
			for _, fd := range fds {
				if replyFD < 0 {
					replyFD = fd
				} else {
					unix.Close(fd)
				}
			}
		} else if cred, err := unix.ParseUnixCredentials(&m); err == nil {
			uid = int(cred.Uid)
		}
	}
	return replyFD, uid
}

// answer is the errno for a request frame from uid: EINVAL for what is
// not a request, EACCES for another uid's before it is read further, else
// the Handler's.
func (s *Server) answer(ctx context.Context, frame []byte, uid int) unix.Errno {
	if !bytes.HasPrefix(frame, []byte(magic)) {
		return unix.EINVAL
	}
	if uid != s.uid {
		return unix.EACCES
	}
	r, err := parseRequest(frame)
	if err != nil {
		return unix.EINVAL
	}
	if err := s.handle(ctx, r); err != nil {
		return errnoOf(err)
	}
	return 0
}

func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

// Close stops Serve; requests then fail with ENOENT.
func (s *Server) Close() error { return s.conn.Close() }

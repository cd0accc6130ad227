package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// The watch fd.
//
// keyctl watch_session hands its program the notification pipe as fd N;
// watch_add, watch_rm and watch_sync, run anywhere below it, act on that
// pipe through the fd they inherited. keyctl-go's queue lives in the
// daemon, on the watcher's connection, and cannot be handed down. What is
// handed down instead is one end of a socket pair (AF_UNIX,
// SOCK_SEQPACKET) whose other end the watcher holds: a command that
// inherited it sends the watcher a request, "add <serial>", "rm <serial>"
// or "sync", with a fresh reply socket attached (SCM_RIGHTS), and the
// watcher answers on that socket alone with the errno of what it did. A
// reply socket per request keeps replies from crossing when several
// processes below the session share the fd.
//
// The kernel checks a watch_add against the credentials of whoever calls
// it. The watcher checks that the sender (SCM_CREDENTIALS, which the
// kernel fills in) has the watcher's uid, then sets the watch through its
// own connection, whose session is the session the program runs in.

// watchFDMagic starts every request and reply, so that an fd that is some
// other socket is told from the watcher's.
const watchFDMagic = "keyctl-go-watch/1"

// watchFDReplyTimeout is how long a command waits for the watcher to
// answer before deciding that the fd is not a watcher's: generous, since
// a sync waits for the watcher to catch up with the store.
var watchFDReplyTimeout = 30 * time.Second

// watchFDEnv is the variable keyctl watch_session sets to the fd number.
const watchFDEnv = "KEYCTL_WATCH_FD"

// errNotWatchFD is what watchFDRequest returns for an fd that is not a
// watcher's: EINVAL, as the kernel answers for an fd that is not a
// notification pipe.
var errNotWatchFD = fmt.Errorf("not a watch_session fd: %w", unix.EINVAL)

// watchFDRequest sends req to the watcher behind fd and returns nil or the
// errno it answered. An fd that is not a watcher's is errNotWatchFD; a
// watcher that has gone is ENOENT, as for a queue torn down.
func watchFDRequest(fd int, req string) error {
	if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_SEQPACKET {
		return errNotWatchFD
	}
	if dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || dom != unix.AF_UNIX {
		return errNotWatchFD
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(pair[0])
	err = unix.Sendmsg(fd, []byte(watchFDMagic+" "+req), unix.UnixRights(pair[1]), nil, unix.MSG_NOSIGNAL)
	unix.Close(pair[1]) // in flight now; the watcher holds it
	if err != nil {
		return unix.ENOENT
	}
	deadline := time.Now().Add(watchFDReplyTimeout)
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return errNotWatchFD
		}
		pfd := []unix.PollFd{{Fd: int32(pair[0]), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(wait/time.Millisecond)+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n > 0 {
			break
		}
	}
	buf := make([]byte, 128)
	n, err := unix.Read(pair[0], buf)
	if err != nil || n == 0 {
		return unix.ENOENT // the watcher went before answering
	}
	reply, ok := strings.CutPrefix(string(buf[:n]), watchFDMagic+" ")
	if !ok {
		return errNotWatchFD
	}
	e, err := strconv.Atoi(reply)
	if err != nil {
		return errNotWatchFD
	}
	if e == 0 {
		return nil
	}
	return unix.Errno(e)
}

func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

// watchFDServer is the watcher's end of the fd: it answers requests until
// closed.
type watchFDServer struct {
	conn *net.UnixConn
	uid  int
	// handle does what a request asks and returns its errno.
	handle func(ctx context.Context, verb string, id keyring.Serial) error
}

// newWatchFD makes the socket pair: the server's end, and the end to hand
// down (not close-on-exec is up to exec.Cmd.ExtraFiles, which dups it).
func newWatchFD(handle func(context.Context, string, keyring.Serial) error) (*watchFDServer, *os.File, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	// The kernel attaches each sender's credentials, which the server
	// checks: the fd may travel to processes of other users.
	if err := unix.SetsockoptInt(pair[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(pair[0])
		unix.Close(pair[1])
		return nil, nil, err
	}
	f := os.NewFile(uintptr(pair[0]), "watch-fd")
	c, err := net.FileConn(f) // a dup, in the runtime's poller, so Close interrupts reads
	f.Close()
	if err != nil {
		unix.Close(pair[1])
		return nil, nil, err
	}
	return &watchFDServer{conn: c.(*net.UnixConn), uid: os.Getuid(), handle: handle},
		os.NewFile(uintptr(pair[1]), "watch-fd-child"), nil
}

// serve answers requests one at a time until Close.
func (s *watchFDServer) serve(ctx context.Context) {
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := s.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return // closed
		}
		replyFD, uid := -1, -1
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if fds, err := unix.ParseUnixRights(&m); err == nil {
					for _, fd := range fds {
						if replyFD < 0 {
							replyFD = fd
						} else {
							unix.Close(fd) // more than asked for: not ours to keep
						}
					}
				} else if cred, err := unix.ParseUnixCredentials(&m); err == nil {
					uid = int(cred.Uid)
				}
			}
		}
		if replyFD < 0 {
			continue // nowhere to answer
		}
		errno := s.do(ctx, string(buf[:n]), uid)
		unix.Sendmsg(replyFD, []byte(watchFDMagic+" "+strconv.Itoa(int(errno))), nil, nil, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
		unix.Close(replyFD)
	}
}

func (s *watchFDServer) do(ctx context.Context, msg string, uid int) unix.Errno {
	req, ok := strings.CutPrefix(msg, watchFDMagic+" ")
	if !ok {
		return unix.EINVAL
	}
	if uid != s.uid {
		return unix.EACCES
	}
	verb, arg, _ := strings.Cut(req, " ")
	var id int64
	if verb != "sync" {
		var err error
		if id, err = strconv.ParseInt(arg, 10, 32); err != nil {
			return unix.EINVAL
		}
	}
	switch verb {
	case "add", "rm", "sync":
	default:
		return unix.EINVAL
	}
	if err := s.handle(ctx, verb, keyring.Serial(id)); err != nil {
		return errnoOf(err)
	}
	return 0
}

func (s *watchFDServer) Close() error { return s.conn.Close() }

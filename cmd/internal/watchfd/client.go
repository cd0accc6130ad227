//go:build linux

package watchfd

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotWatchFD is what Call returns for an fd that is not a watcher's:
// EINVAL, as the kernel answers for an fd that is not a notification
// pipe.
var ErrNotWatchFD = fmt.Errorf("watchfd: not a watch_session fd: %w", unix.EINVAL)

// replyTimeout is how long Call waits for the watcher to answer before
// deciding that the fd is not a watcher's: generous, since a sync waits
// for the watcher to catch up with the store.
var replyTimeout = 30 * time.Second

// Call sends r to the watcher behind fd and returns nil or the errno it
// answered. An fd that is not a watcher's is ErrNotWatchFD; a watcher
// that has gone is ENOENT, as for a queue torn down.
func Call(fd int, r Request) error {
	if !isSeqpacketUnix(fd) {
		return ErrNotWatchFD
	}
	reply, err := send(fd, appendRequest(nil, r))
	if err != nil {
		return err
	}
	if err := await(reply); err != nil {
		unix.Close(reply)
		return err
	}
	defer unix.Close(reply)
	buf := make([]byte, maxFrame)
	n, err := unix.Read(reply, buf)
	if err != nil || n == 0 {
		return unix.ENOENT // the watcher went before answering
	}
	errno, err := parseReply(buf[:n])
	if err != nil {
		return err
	}
	if errno == 0 {
		return nil
	}
	return errno
}

// isSeqpacketUnix reports whether fd is an AF_UNIX SOCK_SEQPACKET socket,
// as a watch fd is.
func isSeqpacketUnix(fd int) bool {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || typ != unix.SOCK_SEQPACKET {
		return false
	}
	dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	return err == nil && dom == unix.AF_UNIX
}

// send sends frame on fd with one end of a new socket pair attached, and
// returns the other end, on which the watcher answers.
func send(fd int, frame []byte) (reply int, err error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	err = unix.Sendmsg(fd, frame, unix.UnixRights(pair[1]), nil, unix.MSG_NOSIGNAL)
	unix.Close(pair[1]) // in flight now; the watcher holds it
	if err != nil {
		unix.Close(pair[0])
		return -1, unix.ENOENT
	}
	return pair[0], nil
}

// await waits until the reply socket has something to read (a reply, or
// the end of a watcher that went), for replyTimeout at most.
func await(reply int) error {
	deadline := time.Now().Add(replyTimeout)
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return ErrNotWatchFD
		}
		pfd := []unix.PollFd{{Fd: int32(reply), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(wait/time.Millisecond)+1)
		switch {
		case errors.Is(err, unix.EINTR):
		case err != nil:
			return err
		case n > 0:
			return nil
		}
	}
}

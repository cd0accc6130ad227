//go:build linux

package daemon

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// listenFDsStart is the first descriptor a socket-activating service
// manager passes (SD_LISTEN_FDS_START in sd-daemon.h): 0, 1 and 2 stay
// stdin, stdout and stderr.
const listenFDsStart = 3

// The environment of socket activation, as systemd sets it.
const (
	envListenPID     = "LISTEN_PID"     // the pid the sockets are for
	envListenFDs     = "LISTEN_FDS"     // how many, from fd 3 on
	envListenFDNames = "LISTEN_FDNAMES" // their names, colon-separated
)

// ActivationListener returns the listening socket a service manager
// passed, as systemd does for a .socket unit (sd_listen_fds(3)):
// LISTEN_PID names this process and LISTEN_FDS is 1, so fd 3 is the
// socket. It returns nil, nil when the process was not socket-activated,
// so that the caller binds its own. The variables are removed from the
// environment either way, as sd_listen_fds(1) does, so that processes
// this one starts do not take the socket for theirs; fd 3 is marked
// close-on-exec for the same reason.
//
// The daemon serves one socket: more than one passed is EINVAL, as is a
// descriptor that is not a listening Unix stream socket, since the unit
// file would be wrong and serving anyway would hide it.
func ActivationListener() (*net.UnixListener, error) {
	pid, fds := os.Getenv(envListenPID), os.Getenv(envListenFDs)
	os.Unsetenv(envListenPID)
	os.Unsetenv(envListenFDs)
	os.Unsetenv(envListenFDNames)
	return activationListener(pid, fds, os.Getpid())
}

func activationListener(pidVar, fdsVar string, self int) (*net.UnixListener, error) {
	if pidVar == "" || fdsVar == "" {
		return nil, nil
	}
	pid, err := strconv.Atoi(pidVar)
	if err != nil {
		return nil, fmt.Errorf("daemon: %s=%q: %w", envListenPID, pidVar, unix.EINVAL)
	}
	if pid != self {
		// Meant for another process, perhaps the parent that started
		// this one without clearing its environment: not ours to touch.
		return nil, nil
	}
	n, err := strconv.Atoi(fdsVar)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("daemon: %s=%q: %w", envListenFDs, fdsVar, unix.EINVAL)
	}
	switch n {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("daemon: %s=%d, want one socket: %w", envListenFDs, n, unix.EINVAL)
	}
	fd := listenFDsStart
	unix.CloseOnExec(fd)
	if err := checkListening(fd); err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "LISTEN_FD_3")
	// FileListener works on a duplicate; the original goes, so the
	// socket is held once, by the listener.
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("daemon: the socket passed in fd %d: %w", fd, err)
	}
	ln, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("daemon: the socket passed in fd %d is not a Unix socket: %w", fd, unix.EINVAL)
	}
	// The service manager made the socket file and will remove it.
	ln.SetUnlinkOnClose(false)
	return ln, nil
}

// checkListening asks the kernel what fd is: it must be a Unix stream
// socket that listens (ListenStream= in the unit, not Accept=yes).
func checkListening(fd int) error {
	for _, c := range []struct {
		opt  int
		want int
		what string
	}{
		{unix.SO_DOMAIN, unix.AF_UNIX, "a Unix socket"},
		{unix.SO_TYPE, unix.SOCK_STREAM, "a stream socket"},
		{unix.SO_ACCEPTCONN, 1, "listening"},
	} {
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, c.opt)
		if err != nil {
			return fmt.Errorf("daemon: fd %d passed by the service manager: %w", fd, err)
		}
		if v != c.want {
			return fmt.Errorf("daemon: fd %d passed by the service manager is not %s: %w", fd, c.what, unix.EINVAL)
		}
	}
	return nil
}

//go:build linux

package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// staleProbeTimeout bounds the connect that asks whether a socket file
// left behind still has a daemon behind it. A live daemon accepts at once
// (the kernel completes the connect from its backlog), so a second is
// plenty, and keeps a start-up from hanging on a wedged one.
var staleProbeTimeout = time.Second

// ListenSocket binds a Unix socket at path and makes it mode 0666, or
// 0600 if private: anyone who can reach it may connect (and is known by
// the credentials the kernel gives, not by what they claim), or only the
// process's own uid and root. Who can reach it is the directory's
// business, the caller's (see PrepareSystemDirs, PrepareUserSocketDir),
// and whom a server serves is its Gate's.
//
// A socket file already at path is probed: if connecting to it is
// refused, the server that made it is gone and the file is removed and
// replaced; if it answers, another server serves it and ListenSocket
// fails with EADDRINUSE, so two servers never serve one socket. Anything
// but a socket at path is left alone (EEXIST).
func ListenSocket(path string, private bool) (*net.UnixListener, error) {
	ln, err := listenReplacingStale(path)
	if err != nil {
		return nil, err
	}
	mode := os.FileMode(0o666)
	if private {
		mode = 0o600
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("daemon: %w", err)
	}
	return ln, nil
}

// listenReplacingStale binds a Unix socket at path, replacing a stale
// socket file (see ListenSocket).
func listenReplacingStale(path string) (*net.UnixListener, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err == nil {
		return ln, nil
	}
	if !errors.Is(err, unix.EADDRINUSE) {
		return nil, fmt.Errorf("daemon: listen on %s: %w", path, err)
	}
	fi, serr := os.Lstat(path)
	if serr != nil {
		return nil, fmt.Errorf("daemon: listen on %s: %w", path, serr)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return nil, fmt.Errorf("daemon: listen on %s: not a socket: %w", path, unix.EEXIST)
	}
	c, derr := net.DialTimeout("unix", path, staleProbeTimeout)
	if derr == nil {
		c.Close()
		return nil, fmt.Errorf("daemon: listen on %s: another server answers there: %w", path, unix.EADDRINUSE)
	}
	if !errors.Is(derr, unix.ECONNREFUSED) {
		return nil, fmt.Errorf("daemon: listen on %s: probing the socket already there: %w", path, derr)
	}
	// Between the probe and the remove another daemon could have replaced
	// the file; two starting at once is for the service manager to prevent.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("daemon: removing stale socket %s: %w", path, err)
	}
	ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("daemon: listen on %s: %w", path, err)
	}
	return ln, nil
}

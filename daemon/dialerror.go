//go:build linux

package daemon

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// dialError is a failed Dial: "daemon: dial PATH: " and why. It is built
// without fmt, since most are never printed: a command that finds no
// daemon opens the store itself, and formatting the error it drops was a
// twentieth of such a command's time.
type dialError struct {
	path string
	err  error
}

func (e *dialError) Error() string { return "daemon: dial " + e.path + ": " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// noSocket is Dial's answer for path if nothing is there, the usual case
// for a command run with no daemon up: the error connect(2) would have
// given (ENOENT), without the socket, the timer and the poller that
// dialling sets up first. Anything at path is left to Dial.
func noSocket(path string) error {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return &dialError{path: path, err: &net.OpError{
		Op:   "dial",
		Net:  "unix",
		Addr: &net.UnixAddr{Name: path, Net: "unix"},
		Err:  os.NewSyscallError("connect", unix.ENOENT),
	}}
}

// dialTimeoutError is Dial's error when the daemon has not answered in
// time: ETIMEDOUT, with the socket and the wait. It is made for every
// Dial, as the context's cause, and formatted only if it happens.
type dialTimeoutError struct {
	path    string
	timeout time.Duration
}

func (e *dialTimeoutError) Error() string {
	return "daemon: dial " + e.path + ": no answer within " + e.timeout.String() + ": " + unix.ETIMEDOUT.Error()
}

func (e *dialTimeoutError) Unwrap() error { return unix.ETIMEDOUT }

//go:build linux

package etcdstore

import "golang.org/x/sys/unix"

// Errors from writing to a store in etcd. Each unwraps to an errno, as
// keystore's errors do, so that the CLI prints the kernel's message.
var (
	// ErrUnavailable means etcd did not answer a write in time, or
	// refused it for a reason other than a conflict: the change may or
	// may not have been made. It unwraps to EIO. Reads go on from this
	// host's copy.
	ErrUnavailable error = &errnoError{"etcdstore: etcd did not commit the change (it may or may not have been made)", unix.EIO}

	// ErrContended means an operation's commit was refused maxAttempts
	// times because other hosts kept changing what it read. It unwraps to
	// EAGAIN.
	ErrContended error = &errnoError{"etcdstore: too much contention on the store in etcd", unix.EAGAIN}
)

// errnoError is a sentinel that prints only its own message yet unwraps to
// an errno.
type errnoError struct {
	msg   string
	errno unix.Errno
}

func (e *errnoError) Error() string { return e.msg }
func (e *errnoError) Unwrap() error { return e.errno }

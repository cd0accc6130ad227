//go:build linux

package secrets

import "golang.org/x/sys/unix"

// Errors an operation returns. Each unwraps to the errno the key store
// gives for the same failure, so errors.Is(err, unix.ENOKEY) holds for
// ErrNotFound, and the message after the sentinel's names the service and
// account.
var (
	// ErrNotFound means no secret is stored under that service and
	// account (or the service has no keyring). An expired secret is not
	// found either; its error also unwraps to EKEYEXPIRED.
	ErrNotFound error = &errnoError{"secrets: not found", unix.ENOKEY}

	// ErrInvalid means a name or an item is not one the store can keep:
	// an empty service or account, a service starting with '.', a name or
	// an item too long (see MaxNameLen and MaxItemLen). It unwraps to
	// EINVAL.
	ErrInvalid error = &errnoError{"secrets: invalid", unix.EINVAL}

	// ErrCorrupt means a secret's stored bytes start as this package's
	// record but do not decode. It unwraps to EBADMSG.
	ErrCorrupt error = &errnoError{"secrets: corrupt record", unix.EBADMSG}
)

// errnoError is a sentinel that prints only its own message yet unwraps
// to an errno.
type errnoError struct {
	msg   string
	errno unix.Errno
}

func (e *errnoError) Error() string { return e.msg }
func (e *errnoError) Unwrap() error { return e.errno }

//go:build linux

package journal

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Errors of the journal, each unwrapping to the errno the kernel gives
// for the same failure. The errors returned that match them print only
// their own detail, never the sentinel's text: package keystore puts its
// own sentinel, which the user knows, in front (keystore.ErrCorrupt for
// ErrCorrupt, and so on).
var (
	// ErrCorrupt means the log, or the database file at the log's
	// checkpoint, failed a check that a torn write cannot explain, or the
	// log belongs to another store. It unwraps to EBADMSG.
	ErrCorrupt error = &errnoError{"journal: corrupt data", unix.EBADMSG}

	// ErrLocked means another process holds the log or the database file.
	// It unwraps to EBUSY.
	ErrLocked error = &errnoError{"journal: in use by another process", unix.EBUSY}

	// ErrClosed is what Update answers once the DB is closing. It unwraps
	// to EBADF.
	ErrClosed error = &errnoError{"journal: closed", unix.EBADF}
)

// errnoError is a sentinel that prints its own message yet unwraps to
// an errno.
type errnoError struct {
	msg   string
	errno unix.Errno
}

func (e *errnoError) Error() string { return e.msg }
func (e *errnoError) Unwrap() error { return e.errno }

// kindError is an error matching the sentinel kind that prints only its
// detail.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// corruptf is an ErrCorrupt saying what is damaged, and where.
func corruptf(format string, args ...any) error {
	return &kindError{ErrCorrupt, fmt.Sprintf(format, args...)}
}

// errLocked is an ErrLocked naming what is held.
func errLocked(format string, args ...any) error {
	return &kindError{ErrLocked, fmt.Sprintf(format, args...)}
}

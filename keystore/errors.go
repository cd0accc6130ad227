//go:build linux

package keystore

import "golang.org/x/sys/unix"

// Errors from opening what the store holds. Each unwraps to the errno the
// kernel gives for the same failure, so that errors.Is(err, unix.EBADMSG)
// holds for ErrCorrupt and the CLI can print keyutils' message; errors
// returned carry detail after the sentinel's text, as in
// "keystore: corrupt data: record is 12 bytes, shorter than the 41-byte minimum".
var (
	// ErrWrongKey means the passphrase or key file does not unwrap the data
	// key, or the key file is no key file at all (wrong size, not a regular
	// file). It unwraps to EKEYREJECTED.
	ErrWrongKey error = &errnoError{"keystore: wrong passphrase or key file", unix.EKEYREJECTED}

	// ErrInsecureKeyFile means the key file's mode lets its group or others
	// read or write it, so the key may already be known to them; it is
	// refused, as ssh refuses such private keys. It unwraps to EKEYREJECTED.
	ErrInsecureKeyFile error = &errnoError{"keystore: key file is open to group or others", unix.EKEYREJECTED}

	// ErrNeedPassphrase means the store is protected by a passphrase and
	// Options.Passphrase is nil: ask for one and open it again. It unwraps
	// to ENOKEY, "Required key not available".
	ErrNeedPassphrase error = &errnoError{"keystore: passphrase required", unix.ENOKEY}

	// ErrCorrupt means stored bytes failed a check: a sealed record, wrapped
	// data key or Argon2 parameter header that is truncated, damaged,
	// altered, of a format version this package does not know, or (for a
	// record) sealed for another key. No payload is ever returned from bytes
	// that fail. It unwraps to EBADMSG.
	ErrCorrupt error = &errnoError{"keystore: corrupt data", unix.EBADMSG}
)

// errnoError is a sentinel that prints only its own message yet unwraps to
// an errno, so that errors.Is and errors.As find the errno through it.
type errnoError struct {
	msg   string
	errno unix.Errno
}

func (e *errnoError) Error() string { return e.msg }
func (e *errnoError) Unwrap() error { return e.errno }

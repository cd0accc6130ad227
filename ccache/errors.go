package ccache

import (
	"errors"
	"fmt"
)

// Errors when parsing. Every parse error is a *FormatError that unwraps to
// one of these.
var (
	// ErrBadVersion means the first two bytes are not 0x0501 to 0x0504
	// (MIT's KRB5_CCACHE_BADVNO).
	ErrBadVersion = errors.New("unsupported file format version")

	// ErrTruncated means the input ended inside a field.
	ErrTruncated = errors.New("truncated")

	// ErrTooLarge means a length or count is larger than what remains of the
	// input or than the package's cap for it.
	ErrTooLarge = errors.New("length or count too large")

	// ErrMalformed means a field holds a value the format forbids, such as a
	// time-offset header field whose length is not 8.
	ErrMalformed = errors.New("malformed field")
)

// Errors when encoding.
var (
	// ErrNotEncodable means a value cannot be written in the file's version:
	// a header in a version other than 4, or a length that does not fit the
	// field that carries it.
	ErrNotEncodable = errors.New("value cannot be encoded")
)

// FormatError reports where parsing stopped and why.
type FormatError struct {
	Field  string // the field being read, e.g. "credential 2: server principal: realm"
	Offset int    // byte offset of that field in the input
	Err    error  // one of the package's sentinel errors
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("ccache: %s at offset %d: %v", e.Field, e.Offset, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

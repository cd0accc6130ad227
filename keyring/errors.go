//go:build linux

package keyring

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Errors that operations return wrap the errno the kernel returns for the
// same failure, so errors.Is(err, unix.EKEYREVOKED) and the like hold, and
// carry a message naming the operation and the ids involved.

func errKey(op string, id Serial, errno unix.Errno, format string, args ...any) error {
	if format == "" {
		return fmt.Errorf("keyring: %s %v: %w", op, id, errno)
	}
	return fmt.Errorf("keyring: %s %v: %s: %w", op, id, fmt.Sprintf(format, args...), errno)
}

//go:build linux

package cli

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// glibcErrors are glibc's strerror texts for the errnos key operations
// return. keyctl prints them through perror, and golang.org/x/sys/unix
// spells several differently (lower case, other wording), so scripts that
// match keyctl's messages need these exactly.
var glibcErrors = map[unix.Errno]string{
	unix.EPERM:        "Operation not permitted",
	unix.ENOENT:       "No such file or directory",
	unix.EINTR:        "Interrupted system call",
	unix.EIO:          "Input/output error",
	unix.E2BIG:        "Argument list too long",
	unix.EBADF:        "Bad file descriptor",
	unix.EAGAIN:       "Resource temporarily unavailable",
	unix.ENOMEM:       "Cannot allocate memory",
	unix.EACCES:       "Permission denied",
	unix.EFAULT:       "Bad address",
	unix.EBUSY:        "Device or resource busy",
	unix.EEXIST:       "File exists",
	unix.ENODEV:       "No such device",
	unix.ENOTDIR:      "Not a directory",
	unix.EINVAL:       "Invalid argument",
	unix.ENFILE:       "Too many open files in system",
	unix.EMFILE:       "Too many open files",
	unix.ENOSPC:       "No space left on device",
	unix.EROFS:        "Read-only file system",
	unix.ERANGE:       "Numerical result out of range",
	unix.EDEADLK:      "Resource deadlock avoided",
	unix.ENAMETOOLONG: "File name too long",
	unix.ENOSYS:       "Function not implemented",
	unix.ELOOP:        "Too many levels of symbolic links",
	unix.EBADSLT:      "Invalid slot",
	unix.ENODATA:      "No data available",
	unix.EMSGSIZE:     "Message too long",
	unix.EOPNOTSUPP:   "Operation not supported",
	unix.EDQUOT:       "Disk quota exceeded",
	unix.ENOKEY:       "Required key not available",
	unix.EKEYEXPIRED:  "Key has expired",
	unix.EKEYREVOKED:  "Key has been revoked",
	unix.EKEYREJECTED: "Key was rejected by service",
}

// strerror is what perror would print for err: glibc's text for the errno
// it carries, else its own message capitalised. An error with no errno is a
// keyctl-go failure (the store would not open, say), so its message is kept
// whole: it says more than any errno could.
func strerror(err error) string {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	if s, ok := glibcErrors[errno]; ok {
		return s
	}
	s := errno.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

//go:build linux

package watchfd

import (
	"bytes"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// magic starts every request and reply, so that an fd that is some other
// socket is told from the watcher's.
const magic = "keyctl-go-watch/1 "

// maxFrame is the longest frame either side reads, in bytes: a request
// is at most the magic, a verb and a serial.
const maxFrame = 256

// Env is the variable keyctl watch_session sets to the fd's number for
// its program.
const Env = "KEYCTL_WATCH_FD"

// Verb is what a Request asks of the watcher.
type Verb string

const (
	// Add watches Request.Key on the session's queue (watch_add).
	Add Verb = "add"
	// Remove removes the queue's watch on Request.Key (watch_rm).
	Remove Verb = "rm"
	// Sync returns once every record posted before it has been handled
	// (watch_sync); it takes no key.
	Sync Verb = "sync"
)

// Request is one request on the watch fd.
type Request struct {
	Verb Verb
	Key  keyring.Serial // 0 for Sync
}

func (r Request) String() string {
	if r.Verb == Sync {
		return string(r.Verb)
	}
	return string(r.Verb) + " " + strconv.Itoa(int(r.Key))
}

// appendRequest appends r's frame to b.
func appendRequest(b []byte, r Request) []byte {
	return append(append(b, magic...), r.String()...)
}

// parseRequest reads a request frame. Anything but a known verb with a
// serial that fits a key_serial_t (none for sync) is EINVAL.
func parseRequest(frame []byte) (Request, error) {
	body, ok := bytes.CutPrefix(frame, []byte(magic))
	if !ok {
		return Request{}, fmt.Errorf("watchfd: not a request frame: %w", unix.EINVAL)
	}
	verb, arg, hasArg := bytes.Cut(body, []byte(" "))
	r := Request{Verb: Verb(verb)}
	switch r.Verb {
	case Sync:
		// keyctl-go's client sends none; the watcher has always ignored
		// what follows.
		return r, nil
	case Add, Remove:
	default:
		return Request{}, fmt.Errorf("watchfd: unknown verb %q: %w", verb, unix.EINVAL)
	}
	if !hasArg {
		return Request{}, fmt.Errorf("watchfd: %s without a key: %w", verb, unix.EINVAL)
	}
	id, err := strconv.ParseInt(string(arg), 10, 32)
	if err != nil {
		return Request{}, fmt.Errorf("watchfd: %s %q: %w", verb, arg, unix.EINVAL)
	}
	r.Key = keyring.Serial(id)
	return r, nil
}

// appendReply appends the frame of a reply carrying errno to b.
func appendReply(b []byte, errno unix.Errno) []byte {
	return strconv.AppendInt(append(b, magic...), int64(errno), 10)
}

// parseReply reads a reply frame: the errno the watcher answered, 0 for
// success. Anything else is ErrNotWatchFD: what answered is no watcher.
func parseReply(frame []byte) (unix.Errno, error) {
	body, ok := bytes.CutPrefix(frame, []byte(magic))
	if !ok {
		return 0, ErrNotWatchFD
	}
	e, err := strconv.Atoi(string(body))
	if err != nil || e < 0 || e > 4095 {
		return 0, ErrNotWatchFD
	}
	return unix.Errno(e), nil
}

//go:build linux

package notify

import (
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// Security is the pair of hooks the kernel gives security modules over
// notifications. The key store supplies the keyring policy; the default
// allows everything.
type Security interface {
	// MayWatch decides whether c may set a watch on the object. An error
	// refuses the watch and is returned to the caller as it is, so it should
	// carry the errno to report (EACCES, say).
	MayWatch(c perms.Cred, object uint64) error

	// MayPost decides whether a record posted on object by poster may reach
	// a watch whose owner had the credentials watcher when it set the watch.
	// It runs for every record and every watch, after the queue's filter:
	// keep it cheap.
	MayPost(watcher, poster perms.Cred, object uint64, h watchqueue.Header) bool
}

// AllowAll is the Security that refuses nothing.
type AllowAll struct{}

// MayWatch implements Security.
func (AllowAll) MayWatch(perms.Cred, uint64) error { return nil }

// MayPost implements Security.
func (AllowAll) MayPost(perms.Cred, perms.Cred, uint64, watchqueue.Header) bool { return true }

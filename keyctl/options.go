//go:build linux

package keyctl

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// The environment variables of the rule (see Discovery), which every
// keyctl-go client reads.
const (
	EnvSocket = "KEYCTL_GO_SOCKET" // step 1: a daemon to use, and no other
	EnvStore  = "KEYCTL_GO_DB"     // step 2: a store file, and its daemon
)

// Options say where Open looks, how it opens a store itself, and what the
// Caller's watch queue is. The zero value follows the rule with the
// process's environment and credentials.
type Options struct {
	// Socket is a daemon's socket, as keyctl-go's --socket: step 1. ""
	// means $KEYCTL_GO_SOCKET.
	Socket string
	// Store is a store file, as keyctl-go's --db: step 2. "" means
	// $KEYCTL_GO_DB.
	Store string
	// Getenv reads the environment: KEYCTL_GO_SOCKET, KEYCTL_GO_DB,
	// XDG_RUNTIME_DIR, XDG_DATA_HOME and HOME. nil means os.Getenv.
	Getenv func(string) string
	// SystemSocket is where step 3 looks; "" means daemon.SystemSocket.
	// Tests and packagers move it; "-" skips step 3.
	SystemSocket string
	// OpenStore opens the store file at steps 2 and 5, waiting at most
	// lockWait for another process to let go of it (0: keystore's
	// default). nil means keyring.Open with a key file beside the store.
	// The keyctl-go command passes one that asks for a passphrase.
	OpenStore func(path string, lockWait time.Duration) (*keyring.Store, error)
	// Cred is who an embedded Caller acts as; nil means perms.Current,
	// who a daemon would see this process as.
	Cred func() perms.Cred
	// QueueSize is how many records the Caller's watch queue holds
	// (watchqueue.MinNotes..MaxNotes, rounded up as SetSize does); 0
	// means daemon.DefaultQueueSize embedded, and the daemon's own size
	// remote (the same, unless its operator changed it).
	QueueSize int
	// Filter, if not nil, filters the Caller's watch queue, as
	// watchqueue.Queue.SetFilter does; in the daemon when remote, so that
	// what it rejects never takes room in the queue.
	Filter *watchqueue.Filter
}

func (o Options) getenv(name string) string {
	if o.Getenv == nil {
		return os.Getenv(name)
	}
	return o.Getenv(name)
}

// socket is step 1's socket, "" if none is named.
func (o Options) socket() string {
	if o.Socket != "" {
		return o.Socket
	}
	return o.getenv(EnvSocket)
}

// namedStore is step 2's store, "" if none is named.
func (o Options) namedStore() string {
	if o.Store != "" {
		return o.Store
	}
	return o.getenv(EnvStore)
}

// StorePath is the store file a Caller would open itself: the one named
// (step 2), else the user's default store (step 5),
// $XDG_DATA_HOME/keyctl-go/keys.db, XDG_DATA_HOME defaulting to
// $HOME/.local/share.
func (o Options) StorePath() (string, error) {
	if s := o.namedStore(); s != "" {
		return s, nil
	}
	return o.defaultStore()
}

// defaultStore is the user's default store, step 5's.
func (o Options) defaultStore() (string, error) {
	dir := o.getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(dir) { // the XDG spec says to ignore a relative one
		home := o.getenv("HOME")
		if home == "" {
			var err error
			if home, err = os.UserHomeDir(); err != nil {
				return "", fmt.Errorf("keyctl: no store: name one, or set %s or HOME: %w", EnvStore, err)
			}
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "keyctl-go", "keys.db"), nil
}

// StoreSocket is where the per-user daemon of the store a Caller would
// open listens: the named store's (step 2) or the default store's (step
// 4), as daemon.UserSocket computes it from $XDG_RUNTIME_DIR. A program
// that starts a daemon starts it here, where every client looks.
func (o Options) StoreSocket() (string, error) {
	store := o.namedStore()
	if store != "" {
		// Named as the file will be opened: a relative name, from here.
		abs, err := filepath.Abs(store)
		if err != nil {
			return "", fmt.Errorf("keyctl: the socket of store %s: %w", store, err)
		}
		store = abs
		// The default store named by its path is still the default
		// store, whose daemon is at step 4's socket.
		if def, err := o.defaultStore(); err == nil && filepath.Clean(def) == store {
			store = ""
		}
	}
	return daemon.UserSocket(o.getenv("XDG_RUNTIME_DIR"), store)
}

// systemSocket is step 3's socket, "" to skip it.
func (o Options) systemSocket() string {
	switch o.SystemSocket {
	case "":
		return daemon.SystemSocket
	case "-":
		return ""
	}
	return o.SystemSocket
}

//go:build linux

package keyctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/keystore"
)

// ErrNoDaemon is DialDaemon's answer when the rule leads to no daemon:
// none is named, and none answers at the sockets of steps 2 to 4. It
// unwraps to ECONNREFUSED.
var ErrNoDaemon error = noDaemonError{}

type noDaemonError struct{}

func (noDaemonError) Error() string        { return "keyctl: no daemon answers" }
func (noDaemonError) Unwrap() error        { return unix.ECONNREFUSED }
func (noDaemonError) Is(target error) bool { return target == ErrNoDaemon }

// lockRetry is how long each try to open a store file waits for whoever
// holds it before Open looks for a daemon again: a daemon that is
// starting opens the store a moment before it listens.
var lockRetry = 200 * time.Millisecond

// Open applies the discovery rule (see Discovery) and returns the Caller
// it leads to: a daemon connection, or the store opened here with a
// Process for this program in it. Close it when done.
//
// While the store file is held by another process (a daemon starting,
// which opens the store a moment before it listens) Open alternates
// between looking for daemons and trying the file, for as long as an
// opener would wait for the file (keystore.DefaultLockTimeout).
func Open(ctx context.Context, o Options) (Caller, error) {
	deadline := time.Now().Add(keystore.DefaultLockTimeout)
	for {
		c, route, err := DialDaemon(ctx, o)
		if err == nil {
			return newRemote(c, route, o), nil
		}
		if !errors.Is(err, ErrNoDaemon) {
			return nil, err
		}
		path, err := o.StorePath()
		if err != nil {
			return nil, err
		}
		step := StepUserStore
		if o.namedStore() != "" {
			step = StepStoreFile
		}
		s, err := o.openStore(path, lockRetry)
		if err == nil {
			return newEmbedded(s, Route{Step: step, Path: path}, o), nil
		}
		if !errors.Is(err, keystore.ErrLocked) || time.Now().After(deadline) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

func (o Options) openStore(path string, lockWait time.Duration) (*keyring.Store, error) {
	if o.OpenStore != nil {
		return o.OpenStore(path, lockWait)
	}
	return keyring.Open(path, keyring.Options{Storage: keystore.Options{LockTimeout: lockWait}})
}

// DialDaemon applies steps 1 to 4 of the rule: it connects to the daemon
// they lead to and says which, or returns ErrNoDaemon when none is named
// and none answers, so that the caller may open the store (steps 2 and
// 5) or start its daemon (at StoreSocket).
//
// A named socket (step 1) that does not answer is its error, not
// ErrNoDaemon. At steps 2 to 4 a daemon that answers as a uid it must
// not trust (EPERM) or does not answer in time (ETIMEDOUT) is an error
// too: going around it would hide it. Only nobody listening (no socket
// file, or nobody behind it) moves on.
func DialDaemon(ctx context.Context, o Options) (*daemon.Client, Route, error) {
	if s := o.socket(); s != "" {
		c, err := dial(ctx, s)
		return c, Route{Step: StepSocket, Path: s}, err
	}
	store, err := o.StoreSocket()
	if err != nil {
		return nil, Route{}, err
	}
	var steps []Route
	if o.namedStore() != "" {
		steps = []Route{{Step: StepStoreDaemon, Path: store}}
	} else {
		if sys := o.systemSocket(); sys != "" {
			steps = append(steps, Route{Step: StepSystemDaemon, Path: sys})
		}
		steps = append(steps, Route{Step: StepUserDaemon, Path: store})
	}
	for _, r := range steps {
		c, err := dial(ctx, r.Path)
		switch {
		case err == nil:
			return c, r, nil
		case ctx.Err() != nil:
			return nil, Route{}, ctx.Err()
		case !nobodyListens(err):
			return nil, Route{}, fmt.Errorf("keyctl: %v: %w", r, err)
		}
	}
	return nil, Route{}, ErrNoDaemon
}

// hangUpRetry is how long dial waits before trying again a daemon that
// hung up on it: long enough for one that was exiting to have gone.
const hangUpRetry = 50 * time.Millisecond

// dial is daemon.Dial, tried once more if the daemon hung up without
// answering: a daemon exiting because it was idle (keyctl-go daemon
// --idle-exit) closes the connections it had not served yet. By the
// second try it is gone, and nobody listens; one that hangs up again
// (a uid past its connection limit) is its error.
func dial(ctx context.Context, path string) (*daemon.Client, error) {
	c, err := daemon.Dial(ctx, path)
	if err == nil || !hungUp(err) {
		return c, err
	}
	select {
	case <-time.After(hangUpRetry):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return daemon.Dial(ctx, path)
}

func hungUp(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE)
}

// nobodyListens reports whether a failed dial found no daemon at all: no
// socket file (or no directory for it), or a socket nobody listens on
// (a stale file a daemon left), rather than one that answered wrongly.
func nobodyListens(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) ||
		errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EACCES)
}

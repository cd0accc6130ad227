//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/cmd/internal/parentsession"
	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyctl"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/requestkey"
)

// envSessionOwner names the process that handed the session in
// $KEYCTL_GO_SESSION down ("<pid>:<start time>"), so that a session
// new_session gave a nearer ancestor wins over it, and it over one given
// to an ancestor above it.
const envSessionOwner = "KEYCTL_GO_SESSION_OWNER"

// parentsDir is where new_session records the sessions it gives parent
// processes: "parents" in the user's private directory, beside the
// per-user daemons' sockets ($XDG_RUNTIME_DIR/keyctl-go, else
// /tmp/keyctl-go-<uid>; daemon.UserDir).
func (a *app) parentsDir() parentsession.Dir {
	return parentsession.Dir{Path: filepath.Join(daemon.UserDir(a.getenv("XDG_RUNTIME_DIR")), "parents")}
}

// storeName names the store a Caller reached by route alike for every
// command that reaches it, for the records of its sessions: the socket of
// its daemon, whether or not the daemon runs (the store's own per-user
// socket at steps 2, 4 and 5), else the socket it was reached at.
func (a *app) storeName(r keyctl.Route) (string, error) {
	switch r.Step {
	case keyctl.StepSocket, keyctl.StepSystemDaemon:
		return filepath.Abs(r.Path)
	}
	return a.storeSocket()
}

// inheritedSession is the session keyring this process starts in, which
// a forked child would have inherited in the kernel, and where that was
// found, for errors; 0 for none (@s is then the user-session keyring):
//
//   - a request_key helper's is its construction's (assumeAuthority), and
//     a session in $KEYCTL_GO_SESSION set by hand, without
//     $KEYCTL_GO_SESSION_OWNER, is taken as it is;
//   - else the nearest of a session new_session gave an ancestor
//     (parentsession.Dir.Find) and the one `keyctl-go session` handed down;
//   - else the one handed down, if any.
//
// Records in a directory that is not the user's alone are ignored, with a
// warning.
func (a *app) inheritedSession(p keyctl.Caller) (keyring.Serial, string, error) {
	handed, from, err := a.handedDownSession()
	if err != nil {
		return 0, "", err
	}
	var owner parentsession.Owner
	if handed != 0 {
		v := a.getenv(envSessionOwner)
		if v == "" {
			return handed, from, nil
		}
		if owner, err = parentsession.ParseOwner(v); err != nil {
			return 0, "", fmt.Errorf("%s: %w", envSessionOwner, err)
		}
	}
	if a.getenv(requestkey.EnvAuthority) != "" {
		return handed, from, nil
	}
	store, err := a.storeName(p.Route())
	if err != nil {
		return 0, "", err
	}
	r, ok, err := a.parentsDir().Find(store, owner, a.cred().UID)
	if err != nil {
		fmt.Fprintf(a.stderr, "keyctl-go: ignoring the sessions new_session gave: %v\n", err)
		return handed, from, nil
	}
	if ok {
		return r.Session, fmt.Sprintf("the session new_session gave process %d (%d)", r.PID, r.Session), nil
	}
	return handed, from, nil
}

// handedDownSession is the session in $KEYCTL_GO_SESSION, 0 if none.
func (a *app) handedDownSession() (keyring.Serial, string, error) {
	v := a.getenv(envSession)
	if v == "" {
		return 0, "", nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, "", fmt.Errorf("%s=%q is not a key serial", envSession, v)
	}
	return keyring.Serial(n), fmt.Sprintf("%s=%d", envSession, n), nil
}

// ownerEnv is $KEYCTL_GO_SESSION_OWNER naming this process, for the
// children it hands a session down to; nothing if /proc cannot say when
// it started (its session then wins over records, as one set by hand).
func ownerEnv() []string {
	self, err := parentsession.Self()
	if err != nil {
		return nil
	}
	return []string{envSessionOwner + "=" + parentsession.Owner{PID: self.PID, Start: self.Start}.String()}
}

// giveParent gives the session p is in to this process's parent, as
// KEYCTL_SESSION_TO_PARENT does: it pins it, records it for the parent,
// lets go of the session the parent had from an earlier new_session, and
// sweeps the records of processes that are gone. It returns the session.
// A parent the kernel would refuse is EPERM.
func (a *app) giveParent(ctx context.Context, p keyctl.Caller) (keyring.Serial, error) {
	const op = "keyctl_session_to_parent"
	cred := a.cred()
	parent, err := parentsession.Parent(cred.UID, cred.GID)
	if err != nil {
		return 0, opError(op, err)
	}
	self, err := parentsession.Self()
	if err != nil {
		return 0, opError(op, err)
	}
	store, err := a.storeName(p.Route())
	if err != nil {
		return 0, err
	}
	session, err := p.PinSession(ctx)
	if errors.Is(err, unix.EACCES) {
		// Another user's named session: the kernel wants the session
		// to be the caller's.
		err = unix.EPERM
	}
	if err != nil {
		return 0, opError(op, err)
	}
	dir := a.parentsDir()
	old, replaced, err := dir.Put(store, parentsession.Record{
		PID: parent.PID, Start: parent.Start, UID: cred.UID, GID: cred.GID,
		Recorded: self.Start, Session: session,
	})
	if err != nil {
		if uerr := p.UnpinSession(ctx, session); uerr != nil {
			err = errors.Join(err, uerr)
		}
		return 0, fmt.Errorf("new_session: %w", err)
	}
	gone, err := dir.Sweep(store)
	if err != nil {
		fmt.Fprintf(a.stderr, "keyctl-go: new_session: sweeping: %v\n", err)
	}
	if replaced {
		gone = append(gone, old)
	}
	for _, r := range gone {
		a.letGo(ctx, p, r)
	}
	return session, nil
}

// letGo takes off the pin of a record's session. One that is already
// gone (invalidated, collected) or no longer pinned is let go already.
func (a *app) letGo(ctx context.Context, p keyctl.Caller, r parentsession.Record) {
	err := p.UnpinSession(ctx, r.Session)
	if err == nil || errors.Is(err, unix.ENOKEY) || errors.Is(err, unix.EINVAL) ||
		errors.Is(err, unix.EKEYREVOKED) || errors.Is(err, unix.EKEYEXPIRED) {
		return
	}
	fmt.Fprintf(a.stderr, "keyctl-go: new_session: letting go of session %d of process %d: %v\n", r.Session, r.PID, err)
}

//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// cmdSession is `session [-|<name>] [<prog> <arg>...]`: join a new
// anonymous session keyring (no name, or "-") or the named one, say
// "Joined session keyring: N" on stderr as keyctl does, and run prog
// ($SHELL, else /bin/sh, when none is given) with the session handed down
// in KEYCTL_GO_SESSION, so that @s in every keyctl-go process below it is
// that keyring.
//
// keyctl execs into prog; keyctl-go runs it as a child and waits, because
// the store must be let go while prog runs (the keyctl-go processes below
// open it themselves) and the session kept meanwhile by a stored pin, which
// is taken off when prog exits: an anonymous session nothing else holds is
// then collected. keyctl-go exits with prog's status (128+signal if a
// signal ended it).
//
// The serial in KEYCTL_GO_SESSION is no secret, and no key to the
// session: a process of another uid that names it is refused (see
// keyring.Process.AdoptSession), as the kernel hands a session only to the
// children of the process that has it. Only the session's owner may pin
// it, so joining another user's named session, which the kernel allows if
// that user lets the caller Search it, fails here with EACCES.
func cmdSession(ctx context.Context, a *app, args []string) error {
	name, named := "", false
	if len(args) > 0 {
		if args[0] != "-" {
			name, named = args[0], true
		}
		args = args[1:]
	}
	joined, pinned, err := a.joinAndPin(ctx, name, named)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "Joined session keyring: %d\n", joined)
	// The keyctl-go commands below cannot all be handed the passphrase of
	// a passphrase store; a daemon that holds the store open serves them.
	if a.passphrase != nil {
		if err := a.ensureDaemon(ctx); err != nil {
			return err
		}
	}

	prog := args
	if len(prog) == 0 {
		shell := a.getenv("SHELL")
		if shell == "" {
			shell = "/bin/sh"
		}
		prog = []string{shell}
	}
	code, runErr := a.runChild(prog, pinned)

	p, err := a.process(ctx)
	if err == nil {
		err = p.UnpinSession(ctx, pinned)
	}
	if runErr != nil {
		return runErr
	}
	if err != nil {
		return opError("keyctl_join_session_keyring", err)
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// cmdNewSession is `new_session [<name>]`: join a new anonymous session
// keyring, or the named one, give it to the parent process as keyctl's
// KEYCTL_SESSION_TO_PARENT does, and print its serial. The parent's
// keyctl-go commands started afterwards have it as @s; see giveParent,
// and the package doc for where this differs from the kernel.
func cmdNewSession(ctx context.Context, a *app, args []string) error {
	if err := nargs(args, 0, 1); err != nil {
		return err
	}
	name := ""
	if len(args) == 1 {
		if name = args[0]; name == "" {
			// keyctl passes "" on as a name, which the kernel refuses.
			return opError("keyctl_join_session_keyring", unix.EINVAL)
		}
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	if _, err := p.JoinSession(ctx, name); err != nil {
		return opError("keyctl_join_session_keyring", err)
	}
	session, err := a.giveParent(ctx, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%d\n", session)
	return nil
}

// joinAndPin joins the session keyring, pins it, and lets go of the store.
// named says a name was given (an empty one is EINVAL, not anonymous).
// It returns what join returned (0 for the session already joined, as the
// kernel returns) and the serial of the session pinned.
func (a *app) joinAndPin(ctx context.Context, name string, named bool) (joined, pinned keyring.Serial, err error) {
	if named && name == "" {
		// keyctl passes "" on as a name, which the kernel refuses.
		return 0, 0, opError("keyctl_join_session_keyring", unix.EINVAL)
	}
	p, err := a.process(ctx)
	if err != nil {
		return 0, 0, err
	}
	if joined, err = p.JoinSession(ctx, name); err != nil {
		return 0, 0, opError("keyctl_join_session_keyring", err)
	}
	if pinned, err = p.PinSession(ctx); err != nil {
		return 0, 0, opError("keyctl_join_session_keyring", err)
	}
	if err := a.close(ctx); err != nil {
		return 0, 0, err
	}
	return joined, pinned, nil
}

// runChild runs prog with the session handed down and the store named, and
// returns its exit status. A program that cannot be started is reported as
// keyctl reports a failed exec: "<prog>: <strerror>", exit 1.
func (a *app) runChild(prog []string, session keyring.Serial) (int, error) {
	cmd, err := a.startChild(prog, session, nil)
	if err != nil {
		return 0, err
	}
	return exitStatus(cmd.Wait()), nil
}

// startChild starts prog with the session handed down in $KEYCTL_GO_SESSION,
// and this process named as its owner in $KEYCTL_GO_SESSION_OWNER, plus
// extra files from fd 3 and extra environment. A store or socket
// this command was given as an option (--db, --socket) is handed down in
// $KEYCTL_GO_DB or $KEYCTL_GO_SOCKET, so that the commands below find
// what this one found by the same rule; with neither they apply the rule
// as it was applied here (the system daemon, or the user's own).
func (a *app) startChild(prog []string, session keyring.Serial, extra []*os.File, env ...string) (*exec.Cmd, error) {
	if err := a.stdout.Flush(); err != nil {
		return nil, err
	}
	cmd := exec.Command(prog[0], prog[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.stdin, a.rawStdout, a.stderr
	cmd.Env = append(withoutPassphraseFD(os.Environ()), envSession+"="+strconv.Itoa(int(session)))
	cmd.Env = append(cmd.Env, ownerEnv()...)
	if a.dbPath != "" {
		db, err := filepath.Abs(a.dbPath) // the child may run elsewhere
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, envDB+"="+db)
	}
	if a.socketPath != "" {
		cmd.Env = append(cmd.Env, envSocket+"="+a.socketPath)
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.ExtraFiles = extra
	if err := cmd.Start(); err != nil {
		return nil, &exitError{code: 1, msg: prog[0] + ": " + strerror(err)}
	}
	return cmd, nil
}

// exitStatus is a finished child's status as a shell reports it.
func exitStatus(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	default:
		return 1
	}
}

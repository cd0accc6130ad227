//go:build linux

package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/keyctl-go/keyctl-go/internal/keyspec"
	"github.com/keyctl-go/keyctl-go/keyctl"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// Environment variables keyctl-go reads.
const (
	envDB      = keyctl.EnvStore     // store file, when --db is not given
	envSession = "KEYCTL_GO_SESSION" // serial of the session keyring @s names
	envSocket  = keyctl.EnvSocket    // a daemon to use, when --socket is not given
)

// app is one invocation: its streams, environment and, once a command needs
// it, the open store and the caller's Process. Commands get everything
// through it, so tests can drive whole command lines in-process.
type app struct {
	stdin  io.Reader
	stdout *bufio.Writer // flushed once at exit, as C's stdio does for keyctl
	stderr io.Writer
	// rawStdout is stdout unbuffered, for child programs (session), which
	// must write to the terminal as they run.
	rawStdout io.Writer
	getenv    func(string) string
	cred      func() perms.Cred

	dbPath     string    // from --db; "" means the environment decides
	socketPath string    // from --socket; likewise
	etcd       etcdFlags // --etcd and its friends (etcd.go)
	// newWithPassphrase is --passphrase: a store created now is protected
	// by a passphrase rather than a key file.
	newWithPassphrase bool
	passphrase        []byte // once read, for every open in this process
	// quota is the daemon's --quota-keys and --quota-bytes; zero means
	// the kernel's defaults.
	quota keyring.Quota
	// linearizable is the daemon's --linearizable (a store in etcd).
	linearizable bool
	// secretService is the daemon's --secret-service.
	secretService bool
	// etcdEngine makes the engine of a store in etcd (Config.EtcdEngine);
	// nil in keyctl-go itself, which hands --etcd to keyctl-go-etcd.
	etcdEngine EtcdEngine
	// args are the arguments run was given, for handing them on.
	args []string

	proc keyctl.Caller // the caller's Process, or a daemon connection
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{
		stdin:     stdin,
		stdout:    bufio.NewWriter(stdout),
		stderr:    stderr,
		rawStdout: stdout,
		getenv:    getenv,
		cred:      callerCred,
	}
}

// callerCred is who the kernel would see (perms.Current): keyctl-go is
// not installed set-id, so its effective ids are the real ones.
func callerCred() perms.Cred { return perms.Current() }

// exitError ends a command with keyctl's exit code and message. An empty
// message prints nothing (supports says yes or no by its code alone).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// errUsage makes run print the Format listing and exit 2, as keyctl does
// for any argument count or option it does not accept.
var errUsage = errors.New("usage")

// opError is a failed key operation, printed as perror(name) would:
// "<name>: <strerror>", exit 1.
func opError(name string, err error) error {
	return &exitError{code: 1, msg: name + ": " + strerror(err)}
}

func run(ctx context.Context, a *app, args []string) int {
	a.args = args
	code := a.dispatch(ctx, args)
	// Flush before closing so output reaches the user even if closing fails.
	if err := a.stdout.Flush(); err != nil && code == 0 {
		code = 1
	}
	if err := a.close(ctx); err != nil {
		fmt.Fprintf(a.stderr, "keyctl-go: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func (a *app) dispatch(ctx context.Context, args []string) int {
	// The global options come before the command, so that a command's own
	// arguments are never mistaken for them.
	for len(args) > 0 {
		if len(args) >= 2 && args[0] == "--db" {
			a.dbPath = args[1]
			args = args[2:]
		} else if len(args) >= 2 && args[0] == "--socket" {
			a.socketPath = args[1]
			args = args[2:]
		} else if n := a.globalEtcdOption(args); n > 0 {
			args = args[n:]
		} else if args[0] == passphraseOption {
			a.newWithPassphrase = true
			args = args[1:]
		} else {
			break
		}
	}
	if eo, err := a.etcdOptions(); (eo != nil || err != nil) && a.etcdEngine == nil {
		// This build links no etcd client (it would slow every
		// command's start): the program that does takes over.
		return a.execEtcdProgram()
	}
	if len(args) == 0 {
		a.printUsage()
		return 2
	}
	if args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(a.stdout, helpText)
		return 0
	}
	if args[0] == daemonCommand {
		return a.runDaemon(ctx, args[1:])
	}
	cmd := lookupCommand(args[0])
	if cmd == nil {
		fmt.Fprintln(a.stderr, "Unknown command")
		return 2
	}
	err := cmd.run(ctx, a, args[1:])
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		a.printUsage()
		return 2
	case errors.As(err, &ee):
		if ee.msg != "" {
			a.stdout.Flush() // keep what was printed before the failure first
			fmt.Fprintln(a.stderr, ee.msg)
		}
		return ee.code
	default:
		a.stdout.Flush()
		fmt.Fprintf(a.stderr, "keyctl-go: %v\n", err)
		return 1
	}
}

// discovery is how this invocation finds the store: keyctl's rule, with
// --socket and --db, the environment, and a store opener that asks for a
// passphrase.
func (a *app) discovery() keyctl.Options {
	return keyctl.Options{
		Socket:    a.socketPath,
		Store:     a.dbPath,
		Getenv:    a.getenv,
		OpenStore: a.openStore,
		Cred:      a.cred,
	}
}

// dbFile is the store a command opens when no daemon serves it: --db,
// $KEYCTL_GO_DB, or the XDG data directory (keyctl.Options.StorePath).
func (a *app) dbFile() (string, error) { return a.discovery().StorePath() }

// storeSocket is where the daemon of that store listens, as
// daemon.UserSocket says: where steps 2 and 4 of the rule look, and where
// a daemon this command starts listens.
func (a *app) storeSocket() (string, error) { return a.discovery().StoreSocket() }

// process returns what the caller acts through, on first use: what the
// discovery rule finds (keyctl.Open: a daemon, else the store opened
// here), with the session it inherited adopted (the environment's, or
// one new_session gave an ancestor: inheritedSession), and a request_key
// helper's authority assumed.
func (a *app) process(ctx context.Context) (keyctl.Caller, error) {
	if a.proc != nil {
		return a.proc, nil
	}
	p, err := keyctl.Open(ctx, a.discovery())
	if err != nil {
		return nil, err
	}
	session, from, err := a.inheritedSession(p)
	if err != nil {
		p.Close()
		return nil, err
	}
	if session != 0 {
		if err := p.AdoptSession(ctx, session); err != nil {
			p.Close()
			return nil, fmt.Errorf("%s: %w", from, err)
		}
	}
	if err := a.assumeAuthority(ctx, p); err != nil {
		return nil, err
	}
	a.proc = p
	return p, nil
}

// close lets go of the store or the daemon connection.
func (a *app) close(ctx context.Context) error {
	if a.proc == nil {
		return nil
	}
	err := a.proc.Close()
	a.proc = nil
	return err
}

// keyID turns a key argument into a serial as keyctl's get_key_id does:
// parse errors exit 2; a "%type:desc" lookup that finds nothing exits 1.
func (a *app) keyID(ctx context.Context, arg string) (keyring.Serial, error) {
	spec, err := keyspec.Parse(arg)
	if err != nil {
		return 0, &exitError{code: 2, msg: err.Error()}
	}
	if !spec.ByName {
		return keyring.Serial(spec.ID), nil
	}
	p, err := a.process(ctx)
	if err != nil {
		return 0, err
	}
	// keyctl asks request_key first, which searches the caller's keyrings
	// as the kernel would; failing that it scans every key it may view.
	// The store offers no such scan, so the user keyring, where keys kept
	// outside any session usually live, stands in for it.
	if id, err := p.RequestKey(ctx, spec.Type, spec.Desc, 0); err == nil {
		return id, nil
	}
	if id, err := p.Search(ctx, keyring.UserKeyring, spec.Type, spec.Desc, 0); err == nil {
		return id, nil
	}
	return 0, &exitError{code: 1, msg: fmt.Sprintf("Can't find '%s'", spec)}
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/keyspec"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/perms"
)

// Environment variables keyctl-go reads.
const (
	envDB      = "KEYCTL_GO_DB"      // store file, when --db is not given
	envSession = "KEYCTL_GO_SESSION" // serial of the session keyring @s names
	envSocket  = "KEYCTL_GO_SOCKET"  // a daemon to use instead of opening the store
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

	dbPath string // from --db; "" means the environment decides
	// newWithPassphrase is --passphrase: a store created now is protected
	// by a passphrase rather than a key file.
	newWithPassphrase bool
	passphrase        []byte // once read, for every open in this process
	// serving is set by the daemon command: its store is opened for
	// writing at once, where a command's waits for its first write
	// (keystore.Options.DeferWrite), which most never make.
	serving bool

	store  *keyring.Store // nil when a daemon serves the store
	proc   keyring.Caller // the caller's Process, or a daemon connection
	closer func(context.Context) error
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

// callerCred is who the kernel would see: the real uid and gid, since
// keyctl-go is not installed set-id, and the supplementary groups.
func callerCred() perms.Cred {
	c := perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	groups, _ := os.Getgroups()
	for _, g := range groups {
		c.Groups = append(c.Groups, uint32(g))
	}
	return c
}

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
		} else if args[0] == passphraseOption {
			a.newWithPassphrase = true
			args = args[1:]
		} else {
			break
		}
	}
	if len(args) == 0 {
		a.printUsage()
		return 2
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

// dbFile is where the store lives: --db, $KEYCTL_GO_DB, or the XDG data
// directory.
func (a *app) dbFile() (string, error) {
	if a.dbPath != "" {
		return a.dbPath, nil
	}
	if p := a.getenv(envDB); p != "" {
		return p, nil
	}
	dir := a.getenv("XDG_DATA_HOME")
	if dir == "" {
		home := a.getenv("HOME")
		if home == "" {
			var err error
			if home, err = os.UserHomeDir(); err != nil {
				return "", fmt.Errorf("no store: set --db, %s or HOME: %w", envDB, err)
			}
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "keyctl-go", "keys.db"), nil
}

// process returns what the caller acts through, on first use: a daemon
// serving the store if one is reachable (see daemonSocket), else the store
// opened here and the caller's Process in it; with the session from the
// environment adopted.
func (a *app) process(ctx context.Context) (keyring.Caller, error) {
	if a.proc != nil {
		return a.proc, nil
	}
	p, err := a.connect(ctx)
	if err != nil {
		return nil, err
	}
	if v := a.getenv(envSession); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s=%q is not a key serial", envSession, v)
		}
		if err := p.AdoptSession(ctx, keyring.Serial(n)); err != nil {
			return nil, fmt.Errorf("%s=%d: %w", envSession, n, err)
		}
	}
	a.proc = p
	return p, nil
}

// lockRetry is how long each try to open the store waits for whoever holds
// it before connect looks for a daemon again: a daemon that is starting
// opens the store a moment before it listens.
var lockRetry = 200 * time.Millisecond

// connect reaches the store: through its daemon if one answers, else by
// opening the file. While the file is held by another process and the
// store has a socket, it alternates between the two for as long as an
// opener would wait for the file (keystore.DefaultLockTimeout), so that a
// command run while a daemon starts goes through that daemon.
func (a *app) connect(ctx context.Context) (keyring.Caller, error) {
	socket := a.daemonSocket()
	deadline := time.Now().Add(keystore.DefaultLockTimeout)
	for {
		if socket != "" {
			c, err := daemon.Dial(ctx, socket)
			if err == nil {
				a.closer = func(context.Context) error { return c.Close() }
				return c, nil
			}
			if a.getenv(envSocket) != "" {
				return nil, err // asked for this daemon by name: do not quietly go around it
			}
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ETIMEDOUT) {
				// Another user's socket where the store's daemon should
				// be, or a daemon that holds the store and does not
				// answer: going around either would hide it.
				return nil, err
			}
		}
		path, err := a.dbFile()
		if err != nil {
			return nil, err
		}
		wait := time.Duration(0) // the store's default
		if socket != "" {
			wait = lockRetry
		}
		s, err := a.openStore(path, wait)
		if err == nil {
			proc := s.Process(a.cred())
			a.store = s
			a.closer = func(ctx context.Context) error { return errors.Join(proc.Release(ctx), s.Close()) }
			return proc, nil
		}
		if socket == "" || !errors.Is(err, keystore.ErrLocked) || time.Now().After(deadline) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// daemonSocket is the daemon to use, if any: $KEYCTL_GO_SOCKET, else the
// socket of the store's own daemon (storeSocket).
func (a *app) daemonSocket() string {
	if s := a.getenv(envSocket); s != "" {
		return s
	}
	s, _ := a.storeSocket()
	return s
}

// storeSocket is where the store's per-user daemon listens, as
// daemon.UserSocket says, so that every invocation naming a store, and
// the daemon one of them starts, agree: in the user's private runtime
// directory ($XDG_RUNTIME_DIR/keyctl-go, or /tmp/keyctl-go-<uid>), named
// "socket" for the default store and after the store's path for one named
// by --db or $KEYCTL_GO_DB. A daemon serves one store, so every
// invocation naming a store finds that store's daemon, and never another's.
func (a *app) storeSocket() (string, error) {
	store := "" // the default store
	if a.dbPath != "" || a.getenv(envDB) != "" {
		db, err := a.dbFile()
		if err != nil {
			return "", err
		}
		store = db
	}
	return daemon.UserSocket(a.getenv("XDG_RUNTIME_DIR"), store)
}

// close lets go of the store or the daemon connection.
func (a *app) close(ctx context.Context) error {
	if a.closer == nil {
		return nil
	}
	err := a.closer(ctx)
	a.store, a.proc, a.closer = nil, nil, nil
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

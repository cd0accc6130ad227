package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// daemonCommand is keyctl-go's own command, not keyctl's: it is dispatched
// before keyctl's table so that the Format listing stays keyctl's.
const daemonCommand = "daemon"

// daemonUsage is the daemon's Format line.
const daemonUsage = "Format: keyctl-go daemon [--system] [--socket <path>] [--quota-keys <n>] [--quota-bytes <n>] [--secret-service]"

// runDaemon is `keyctl-go daemon [--system] [--socket PATH] [--quota-keys
// N] [--quota-bytes N] [--secret-service]`: serve the
// store on a Unix socket until SIGTERM or SIGINT, then finish calls in
// flight and close the store cleanly. While it runs it owns the store
// file, and other invocations go through it.
//
// Per-user (the default), the store is chosen as for every command (--db,
// $KEYCTL_GO_DB, XDG), and the socket defaults to the store's socket
// (app.storeSocket), where every other invocation naming the store looks
// for it, in a directory made 0700.
//
// With --system it is the one daemon for every user of the machine: the
// store defaults to daemon.SystemStore and the socket to
// daemon.SystemSocket, in a directory every user may enter, and each
// client is known by the uid the kernel gives (see daemon.PrepareSystemDirs).
// --db and --socket name others, for tests and packagers.
//
// Started by systemd for a .socket unit (LISTEN_FDS), it serves the
// socket it is given, and --socket is not used.
//
// --quota-keys and --quota-bytes are how many keys, and how many bytes of
// them, each uid but root may own (the kernel's maxkeys and maxbytes,
// 200 and 20,000 by default); root keeps its larger limits unless these
// are larger still.
//
// --secret-service also serves the user's secrets as the freedesktop
// Secret Service on the session bus (daemon_secretservice.go).
func (a *app) runDaemon(ctx context.Context, args []string) int {
	var socket string
	system := false
	for len(args) > 0 {
		switch {
		case args[0] == "--system":
			system = true
			args = args[1:]
		case args[0] == "--socket" && len(args) >= 2:
			socket = args[1]
			args = args[2:]
		case args[0] == "--secret-service":
			a.secretService = true
			args = args[1:]
		case (args[0] == "--quota-keys" || args[0] == "--quota-bytes") && len(args) >= 2:
			if err := a.setQuota(args[0], args[1]); err != nil {
				fmt.Fprintf(a.stderr, "keyctl-go daemon: %v\n", err)
				return 2
			}
			args = args[2:]
		default:
			fmt.Fprintln(a.stderr, daemonUsage)
			return 2
		}
	}
	if system && a.secretService {
		fmt.Fprintln(a.stderr, "keyctl-go daemon: --secret-service serves one user's session bus, not --system")
		return 2
	}
	if err := a.serve(ctx, socket, system); err != nil {
		fmt.Fprintf(a.stderr, "keyctl-go daemon: %v\n", err)
		return 1
	}
	return 0
}

// setQuota sets one of the daemon's per-uid limits from its flag.
func (a *app) setQuota(flag, value string) error {
	n, err := strconv.ParseUint(value, 10, 32)
	if err != nil || n == 0 {
		return fmt.Errorf("%s %q: not a number from 1 to %d", flag, value, uint32(math.MaxUint32))
	}
	if a.quota == (keyring.Quota{}) {
		a.quota = keyring.DefaultQuota
	}
	q := &a.quota
	if flag == "--quota-keys" {
		q.MaxKeys, q.RootMaxKeys = uint32(n), max(q.RootMaxKeys, uint32(n))
	} else {
		q.MaxBytes, q.RootMaxBytes = uint32(n), max(q.RootMaxBytes, uint32(n))
	}
	return nil
}

// defaultSocket is the store's socket, its directory made if need be.
func (a *app) defaultSocket() (string, error) {
	socket, err := a.storeSocket()
	if err != nil {
		return "", fmt.Errorf("no --socket and %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(socket), 0o700); err != nil {
		return "", err
	}
	return socket, nil
}

// daemonStore is the store the daemon serves: as every command's, or in
// system mode the system's unless named.
func (a *app) daemonStore(system bool) (string, error) {
	if system && a.dbPath == "" && a.getenv(envDB) == "" {
		return daemon.SystemStore, nil
	}
	return a.dbFile()
}

func (a *app) serve(ctx context.Context, socket string, system bool) error {
	// A socket from the service manager comes first: it chose where
	// clients connect, and may have started this daemon because one did.
	ln, err := daemon.ActivationListener()
	if err != nil {
		return err
	}
	if ln != nil {
		socket = ""
	}
	path, err := a.daemonStore(system)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	switch {
	case system:
		if ln == nil && socket == "" {
			socket = daemon.SystemSocket
		}
		err = daemon.PrepareSystemDirs(socket, path)
	case ln == nil && socket == "":
		socket, err = a.defaultSocket()
	}
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	store, err := a.openStore(path, 0)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	var srv *daemon.Server
	if ln != nil {
		srv = daemon.NewServer(ln, store, daemon.Options{})
	} else if srv, err = daemon.Listen(socket, store, daemon.Options{}); err != nil {
		store.Close()
		return err
	}
	stopSecretService := func() error { return nil }
	if a.secretService {
		// A daemon serving a session bus ends with it, as the bus's own
		// services do.
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(ctx)
		defer stop()
		if stopSecretService, err = a.startSecretService(ctx, store, stop); err != nil {
			srv.Close()
			store.Close()
			return err
		}
	}
	fmt.Fprintf(a.stderr, "keyctl-go daemon: serving %s on %s (pid %s)\n", path, srv.Path(), strconv.Itoa(os.Getpid()))
	// Until SIGTERM or SIGINT; then the calls in flight finish, and the
	// store is closed so that everything acknowledged is on disk and the
	// file is let go.
	err = srv.Run(ctx)
	return errors.Join(err, stopSecretService(), store.Close())
}

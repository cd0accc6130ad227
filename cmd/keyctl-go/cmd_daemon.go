package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/kcm"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// daemonCommand is keyctl-go's own command, not keyctl's: it is dispatched
// before keyctl's table so that the Format listing stays keyctl's.
const daemonCommand = "daemon"

// runDaemon is `keyctl-go daemon [--system] [--socket PATH]`: serve the
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
// --kcm-socket PATH also serves Kerberos caches on PATH for MIT's KCM
// cache type (package kcm), from the same store; with --system, --kcm
// alone means kcm.DefaultSocket, where MIT looks by default. A socket
// systemd passes under the name kcm.ActivationName is served the same way.
func (a *app) runDaemon(ctx context.Context, args []string) int {
	var socket, kcmSocket string
	system, kcmDefault := false, false
	for len(args) > 0 {
		switch {
		case args[0] == "--system":
			system = true
			args = args[1:]
		case args[0] == "--kcm":
			kcmDefault = true
			args = args[1:]
		case (args[0] == "--socket" || args[0] == "--kcm-socket") && len(args) >= 2:
			if args[0] == "--socket" {
				socket = args[1]
			} else {
				kcmSocket = args[1]
			}
			args = args[2:]
		default:
			fmt.Fprintln(a.stderr, "Format: keyctl-go daemon [--system] [--socket <path>] [--kcm | --kcm-socket <path>]")
			return 2
		}
	}
	if kcmDefault && kcmSocket == "" {
		if !system {
			fmt.Fprintln(a.stderr, "keyctl-go daemon: --kcm names the system's KCM socket: use it with --system, or give --kcm-socket <path>")
			return 2
		}
		kcmSocket = kcm.DefaultSocket
	}
	if err := a.serve(ctx, socket, system, kcmSocket); err != nil {
		fmt.Fprintf(a.stderr, "keyctl-go daemon: %v\n", err)
		return 1
	}
	return 0
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

func (a *app) serve(ctx context.Context, socket string, system bool, kcmSocket string) error {
	// The KCM socket, if systemd passed one, is taken out first: the
	// daemon's own activation takes exactly one socket.
	kcmLn, err := kcm.ActivationListener()
	if err != nil {
		return err
	}
	defer func() {
		if kcmLn != nil { // not handed to the KCM server
			kcmLn.Close()
		}
	}()
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
	kcmSrv, err := serveKCM(store, kcmLn, kcmSocket)
	kcmLn = nil
	if err != nil {
		srv.Close()
		store.Close()
		return err
	}
	fmt.Fprintf(a.stderr, "keyctl-go daemon: serving %s on %s (pid %s)\n", path, srv.Path(), strconv.Itoa(os.Getpid()))
	// Until SIGTERM or SIGINT; then the calls in flight finish, and the
	// store is closed so that everything acknowledged is on disk and the
	// file is let go.
	err = srv.Run(ctx)
	if kcmSrv != nil {
		err = errors.Join(err, kcmSrv.Close())
	}
	return errors.Join(err, store.Close())
}

// serveKCM serves the store's Kerberos caches on the KCM socket systemd
// passed, or else on path; neither means no KCM server (nil).
func serveKCM(store *keyring.Store, ln *net.UnixListener, path string) (*kcm.Server, error) {
	if ln == nil && path == "" {
		return nil, nil
	}
	if ln == nil {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		var err error
		if ln, err = kcm.Listen(path); err != nil {
			return nil, err
		}
	}
	srv := kcm.NewServer(store, kcm.Options{})
	go srv.Serve(ln)
	return srv, nil
}

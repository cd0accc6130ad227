package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/keyctl-go/keyctl-go/daemon"
)

// daemonCommand is keyctl-go's own command, not keyctl's: it is dispatched
// before keyctl's table so that the Format listing stays keyctl's.
const daemonCommand = "daemon"

// runDaemon is `keyctl-go daemon [--socket PATH]`: serve the store on a
// Unix socket until SIGTERM or SIGINT, then finish calls in flight and
// close the store cleanly. The store is chosen as for every command
// (--db, $KEYCTL_GO_DB, XDG); the socket defaults to the store's socket
// (app.storeSocket), where every other invocation naming the store looks
// for it, and its directory is made 0700. While it runs it owns the store
// file, and other invocations go through it.
func (a *app) runDaemon(ctx context.Context, args []string) int {
	socket := ""
	switch {
	case len(args) == 2 && args[0] == "--socket":
		socket = args[1]
	case len(args) != 0:
		fmt.Fprintln(a.stderr, "Format: keyctl-go daemon [--socket <path>]")
		return 2
	}
	if socket == "" {
		var err error
		if socket, err = a.defaultSocket(); err != nil {
			fmt.Fprintf(a.stderr, "keyctl-go daemon: %v\n", err)
			return 1
		}
	}
	if err := a.serve(ctx, socket); err != nil {
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

func (a *app) serve(ctx context.Context, socket string) error {
	path, err := a.dbFile()
	if err != nil {
		return err
	}
	store, err := a.openStore(path, 0)
	if err != nil {
		return err
	}
	srv, err := daemon.Listen(socket, store, daemon.Options{})
	if err != nil {
		store.Close()
		return err
	}
	fmt.Fprintf(a.stderr, "keyctl-go daemon: serving %s on %s (pid %s)\n", path, srv.Path(), strconv.Itoa(os.Getpid()))
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case <-ctx.Done():
	case err := <-served:
		store.Close()
		return err
	}
	// SIGTERM or SIGINT: finish calls in flight, then close the store so
	// that everything acknowledged is on disk and the file is let go.
	err = srv.Close()
	<-served
	return errors.Join(err, store.Close())
}

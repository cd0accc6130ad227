//go:build linux

package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// Config is what a keyctl-go program adds to the command line.
type Config struct {
	// EtcdEngine, if set, makes the engine of a store in etcd, and the
	// --etcd options are served here. Unset (keyctl-go itself), they are
	// handed to the program EtcdProgram, which sets it: only that
	// program links etcd's client, whose package initialisers would
	// otherwise cost every command about two milliseconds of start-up.
	EtcdEngine EtcdEngine
}

// EtcdEngine makes the engine (keystore.Options.Engine) of the store in
// etcd that the settings name.
type EtcdEngine func(EtcdSettings) func(keystore.Feed) (keystore.Engine, error)

// Main runs the command line of the process (os.Args, its streams and
// environment) and returns its exit code. SIGINT and SIGTERM cancel it.
func Main(cfg Config) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	a.etcdEngine = cfg.EtcdEngine
	return run(ctx, a, os.Args[1:])
}

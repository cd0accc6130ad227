//go:build linux

package cli

import (
	"context"
	"fmt"
	"log/slog"
	"log/syslog"
	"os"
	"path/filepath"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyctl"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/requestkey"
)

// envRequestKeyConf names the directory holding request-key.conf and
// request-key.d, instead of /etc.
const envRequestKeyConf = "KEYCTL_GO_REQUEST_KEY_CONF"

// requestWithCallout runs request_key with callout information for type
// and desc, linking into the keyring named by args[destAt] if there is
// one, and prints the serial found. A key that must be constructed is
// built by the helper request-key.conf names (package requestkey), run by
// this process, as the caller, while the store is reachable for it: the
// daemon this process uses, or this process's own store, served on a
// private socket meanwhile.
func (a *app) requestWithCallout(ctx context.Context, typ, desc string, info []byte, args []string, destAt int) error {
	dest, err := a.optionalDest(ctx, args, destAt)
	if err != nil {
		return err
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	id, c, err := p.RequestKeyWithCallout(ctx, typ, desc, info, dest)
	if err != nil {
		return opError("request_key", err)
	}
	if c != nil {
		a.buildKey(ctx, p, c)
		// Completed whatever happened, or the key would stay under
		// construction until the store's deadline.
		if id, err = p.CompleteRequest(context.WithoutCancel(ctx), c.Key); err != nil {
			return opError("request_key", err)
		}
	}
	fmt.Fprintf(a.stdout, "%d\n", id)
	return nil
}

// buildKey runs the helper for c. Whatever goes wrong leaves the key under
// construction, for CompleteRequest to negate, as the kernel negates it
// when /sbin/request-key fails; and, as request-key does, it is told to
// syslog (LOG_AUTHPRIV), not to the requester.
func (a *app) buildKey(ctx context.Context, p keyring.Caller, c *keyring.Construction) {
	log := syslogger()
	self, err := os.Executable()
	if err != nil {
		log.Warn("request-key: " + err.Error())
		return
	}
	opts := requestkey.Options{ConfDir: a.getenv(envRequestKeyConf), Keyctl: self, Logger: log}
	stop, err := a.serveHelpers(&opts)
	if err != nil {
		log.Warn("request-key: " + err.Error())
		return
	}
	defer stop()
	if err := requestkey.Build(ctx, p, c, opts); err != nil {
		log.Warn("request-key: "+err.Error(), "key", c.Key)
	}
}

// syslogger sends warnings to syslog as request-key does (LOG_AUTHPRIV,
// tagged request-key); where there is no syslog, nowhere.
func syslogger() *slog.Logger {
	w, err := syslog.New(syslog.LOG_AUTHPRIV|syslog.LOG_WARNING, "request-key")
	if err != nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// serveHelpers makes the store reachable for a helper: the daemon this
// process goes through, or, for a store this process opened itself, a
// daemon serving it from a socket in a private directory until stop.
func (a *app) serveHelpers(opts *requestkey.Options) (stop func(), err error) {
	st := keyctl.Store(a.proc)
	if st == nil {
		socket := a.proc.Route().Path
		opts.Env = []string{envSocket + "=" + socket}
		opts.Helper = func(ctx context.Context) (keyring.Caller, func() error, error) {
			c, err := daemon.Dial(ctx, socket)
			if err != nil {
				return nil, nil, err
			}
			return c, c.Close, nil
		}
		return func() {}, nil
	}
	dir, err := os.MkdirTemp("", "keyctl-go-helper-")
	if err != nil {
		return nil, err
	}
	socket := filepath.Join(dir, "socket")
	// Private: the helper runs as this process's uid, and nobody else is
	// served, though none but it can reach the directory.
	srv, err := daemon.Listen(socket, st, daemon.Options{Private: true})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	store, cred := st, a.cred()
	opts.Env = []string{envSocket + "=" + socket}
	opts.Helper = func(ctx context.Context) (keyring.Caller, func() error, error) {
		h := store.Process(cred)
		return h, func() error { return h.Release(context.Background()) }, nil
	}
	return func() {
		srv.Close()
		<-served
		os.RemoveAll(dir)
	}, nil
}

// assumeAuthority takes on the authority a request_key helper is given in
// its environment, as a process that /sbin/request-key started inherits
// it. An authority that cannot be assumed (the key is constructed, or
// the construction ended) is left alone: the process then has none, and
// instantiate and the like say so, as they would in the kernel.
func (a *app) assumeAuthority(ctx context.Context, p keyring.Caller) error {
	v := a.getenv(requestkey.EnvAuthority)
	if v == "" {
		return nil
	}
	key, token, err := requestkey.ParseAuthority(v)
	if err != nil {
		return err
	}
	p.AssumeAuthority(ctx, key, token) // an error leaves the process without one
	return nil
}

//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/notify"
	"github.com/keyctl-go/keyctl-go/secrets"
	"github.com/keyctl-go/keyctl-go/secretservice"
)

// startSecretService serves the daemon's own user's secrets as the
// freedesktop Secret Service on the session bus ($DBUS_SESSION_BUS_ADDRESS),
// acting on the store as that user. It returns what stops it; if the bus
// goes first, it calls busGone.
func (a *app) startSecretService(ctx context.Context, store *keyring.Store, busGone func()) (func() error, error) {
	addr := a.getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" {
		return nil, errors.New("--secret-service: no $DBUS_SESSION_BUS_ADDRESS: no session bus to serve on")
	}
	cred := a.cred()
	p := store.Process(cred)
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	prov, err := secretservice.Connect(ctx, addr, secrets.New(p, secrets.Options{}), secretservice.Options{Owner: cred.UID, Logger: log})
	if err != nil {
		p.Release(ctx)
		return nil, err
	}
	fmt.Fprintf(a.stderr, "keyctl-go daemon: serving %s for uid %d on %s\n", secretservice.BusName, cred.UID, addr)
	go func() {
		select {
		case <-prov.Done():
			if ctx.Err() == nil {
				fmt.Fprintln(a.stderr, "keyctl-go daemon: the session bus is gone; stopping")
				busGone()
			}
		case <-ctx.Done():
		}
	}()
	return func() error {
		err := prov.Close()
		return errors.Join(err, p.Release(context.WithoutCancel(ctx)))
	}, nil
}

// watchLimit is the store's per-user watch limit. The Secret Service
// watches every secret of its user's, so with it the limit grows with
// the key quota: twice the keys a user may own, room for the provider and
// for watchers of its own.
func (a *app) watchLimit() int {
	if !a.secretService {
		return 0
	}
	q := a.quota
	if q == (keyring.Quota{}) {
		q = keyring.DefaultQuota
	}
	keys := q.MaxKeys
	if a.cred().UID == 0 {
		keys = q.RootMaxKeys
	}
	return max(notify.DefaultWatchLimit, 2*int(keys))
}

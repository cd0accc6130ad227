//go:build linux

package secretservice

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/secrets"
)

// Options configure a Provider.
type Options struct {
	// Owner is the uid whose secrets the store holds: a caller the bus
	// says is of any other uid is refused (AccessDenied). Zero is root.
	Owner uint32
	// Logger receives what the provider does (calls refused, signals it
	// could not send), never a secret; nil discards it.
	Logger *slog.Logger
	// Random is the source of session keys, IVs and item names; nil means
	// crypto/rand.
	Random io.Reader
}

// Provider serves the Secret Service API on one bus connection, from a
// secrets.Store. Collections are the store's services, items its
// secrets: what one side changes, the other sees, and the provider
// signals every change the store reports, whoever made it.
type Provider struct {
	st     *secrets.Store
	conn   *dbus.Conn
	owner  uint32
	log    *slog.Logger
	random io.Reader

	sessions sessions

	ctx    context.Context // ends with Close; every call's context
	cancel context.CancelFunc
	watch  *secrets.Watch
	done   sync.WaitGroup // the signal and name goroutines

	// mu guards what follows. Nothing holding it makes a call on the bus
	// or the store.
	mu      sync.Mutex
	aliases map[string]string // alias to collection
	locked  map[string]bool   // collections locked by Lock
	labels  map[string]string // collection labels set over D-Bus
	uids    map[string]uint32 // unique bus name to uid, as the bus said
}

// Connect connects to the bus at address (for the session bus,
// $DBUS_SESSION_BUS_ADDRESS), serves the Secret Service API there from
// st, and claims BusName; it fails with an error wrapping EADDRINUSE if
// another process owns the name. The default collection is made if the
// store has none. Serve until Close.
func Connect(ctx context.Context, address string, st *secrets.Store, opts Options) (*Provider, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Random == nil {
		opts.Random = rand.Reader
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &Provider{
		st:      st,
		owner:   opts.Owner,
		log:     opts.Logger,
		random:  opts.Random,
		ctx:     pctx,
		cancel:  cancel,
		aliases: map[string]string{"default": DefaultCollection},
		locked:  make(map[string]bool),
		labels:  make(map[string]string),
		uids:    make(map[string]uint32),
	}
	if err := p.start(ctx, address); err != nil {
		p.Close()
		return nil, fmt.Errorf("secretservice: serve on %s: %w", address, err)
	}
	return p, nil
}

func (p *Provider) start(ctx context.Context, address string) error {
	if err := p.st.CreateService(ctx, DefaultCollection); err != nil {
		return err
	}
	// The watch starts before the name is claimed: no change a client
	// could make or see goes unsignalled.
	w, err := p.st.Watch(ctx, secrets.AllServices)
	if err != nil {
		return err
	}
	p.watch = w
	conn, err := dbus.Connect(address, dbus.WithHandler(p), dbus.WithContext(p.ctx))
	if err != nil {
		return err
	}
	p.conn = conn
	// Connections that leave take their sessions and cached uids along.
	if err := conn.AddMatchSignal(dbus.WithMatchSender("org.freedesktop.DBus"), dbus.WithMatchInterface("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged")); err != nil {
		return err
	}
	names := make(chan *dbus.Signal, 64)
	conn.Signal(names)
	p.done.Go(func() { p.followNames(names) })
	p.done.Go(p.signalChanges)
	reply, err := conn.RequestName(BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		return err
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("%s is owned by another connection: %w", BusName, unix.EADDRINUSE)
	}
	return nil
}

// Close gives up the name, closes the connection and stops the watch.
// Calls in flight may fail.
func (p *Provider) Close() error {
	p.cancel()
	var err error
	if p.conn != nil {
		p.conn.ReleaseName(BusName)
		err = p.conn.Close()
	}
	if p.watch != nil {
		p.watch.Close()
	}
	p.done.Wait()
	return err
}

// Done is closed once the provider has stopped: Close was called, or the
// connection to the bus ended.
func (p *Provider) Done() <-chan struct{} { return p.ctx.Done() }

// followNames forgets connections that left the bus: their sessions end,
// and their uid is no longer cached (unique names are never reused).
func (p *Provider) followNames(ch chan *dbus.Signal) {
	for {
		select {
		case <-p.ctx.Done():
			return
		case sig, ok := <-ch:
			if !ok {
				// The connection is gone: so is the provider.
				p.cancel()
				return
			}
			if sig.Name != "org.freedesktop.DBus.NameOwnerChanged" || len(sig.Body) != 3 {
				continue
			}
			name, _ := sig.Body[0].(string)
			newOwner, _ := sig.Body[2].(string)
			if newOwner != "" || len(name) == 0 || name[0] != ':' {
				continue
			}
			p.sessions.closeOwner(name)
			p.mu.Lock()
			delete(p.uids, name)
			p.mu.Unlock()
		}
	}
}

// callerUID is the uid the bus says a connection has: the bus daemon
// took it from the kernel (SO_PEERCRED) when the client connected.
func (p *Provider) callerUID(sender string) (uint32, error) {
	if sender == "" {
		return 0, errors.New("no sender")
	}
	p.mu.Lock()
	uid, ok := p.uids[sender]
	p.mu.Unlock()
	if ok {
		return uid, nil
	}
	err := p.conn.BusObject().CallWithContext(p.ctx, "org.freedesktop.DBus.GetConnectionUnixUser", 0, sender).Store(&uid)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	p.uids[sender] = uid
	p.mu.Unlock()
	return uid, nil
}

// authorize refuses a caller of another uid than the store's owner.
func (p *Provider) authorize(sender string) error {
	uid, err := p.callerUID(sender)
	if err != nil {
		p.log.Warn("secretservice: caller's uid unknown", "sender", sender, "err", err)
		return dbusError(errAccessDenied, "the caller's uid is unknown")
	}
	if uid != p.owner {
		p.log.Warn("secretservice: call refused", "sender", sender, "uid", uid, "owner", p.owner)
		return dbusError(errAccessDenied, fmt.Sprintf("uid %d may not use uid %d's secrets", uid, p.owner))
	}
	return nil
}

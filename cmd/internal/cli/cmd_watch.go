//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyctl"
	"github.com/keyctl-go/keyctl-go/keystore"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// watchFilterLetters are keyctl watch's -f letters, by key notification
// subtype.
const watchFilterLetters = "iplncrvs"

// watchTag is the tag keyctl watch gives its watch: the program ends when
// a removal record for it arrives.
const watchTag = 1

// cmdWatch is `watch [-f<letters>] <key>`: print each change to the key as
// keyctl watch does ("<id> link <aux>", "<id> gc", "-- LOSS --", ...),
// until the watch is removed. The watcher must not hold the store, so it
// goes through the store's daemon, starting it (detached, as gpg starts
// gpg-agent) if none answers: every other keyctl-go invocation then goes
// through the same daemon, and the watcher hears their changes as they
// commit. The daemon stays up after the watcher ends. SIGTERM ends it with
// keyctl's "Monitoring terminated"; so does SIGINT, which kills keyctl's
// outright. -f is parsed as keyctl's getopt("f:") does, after the key
// too.
func cmdWatch(ctx context.Context, a *app, args []string) error {
	opts, args, err := getopt(a, "watch", args, "f:")
	if err != nil {
		return err
	}
	var filter keyFilter
	for _, o := range opts {
		if err := filter.parse(o.arg); err != nil {
			return err
		}
	}
	only, filtered := filter.only, filter.filtered
	if err := nargs(args, 1, 1); err != nil {
		return err
	}
	if err := a.ensureDaemon(ctx); err != nil {
		return opError("keyctl_watch_key", err)
	}
	p, err := a.process(ctx)
	if err != nil {
		return err
	}
	if !p.Route().Step.Remote() {
		return opError("keyctl_watch_key", errors.New("no daemon to watch through"))
	}
	id, err := a.keyID(ctx, args[0])
	if err != nil {
		return err
	}
	if err := p.Watch(ctx, id, watchTag); err != nil {
		return opError("keyctl_watch_key", err)
	}
	for rec, err := range p.Records(ctx) {
		if err != nil {
			if ctx.Err() != nil {
				// SIGTERM ends keyctl's watch with this line; SIGINT,
				// which keyctl leaves to kill it, does here too.
				fmt.Fprintln(a.stdout, "Monitoring terminated")
				return nil
			}
			return opError("read", err)
		}
		line, last := watchLine(rec, only, filtered)
		if line != "" {
			fmt.Fprintln(a.stdout, line)
			// Line by line: whoever reads the watcher sees each change as it comes.
			if err := a.stdout.Flush(); err != nil {
				return err
			}
		}
		if last {
			return nil
		}
	}
	return nil
}

// watchLine is what keyctl watch prints for a record, and whether the
// record ends the watch (the removal of the watcher's own watch).
func watchLine(rec watchqueue.Record, only [8]bool, filtered bool) (line string, last bool) {
	switch r := rec.(type) {
	case watchqueue.KeyNotification:
		if r.Subtype > watchqueue.KeySetattr || filtered && !only[r.Subtype] {
			return "", false
		}
		if r.Subtype == watchqueue.KeyLinked || r.Subtype == watchqueue.KeyUnlinked {
			return fmt.Sprintf("%d %s %d", r.KeyID, r.Subtype, r.Aux), false
		}
		return fmt.Sprintf("%d %s", r.KeyID, r.Subtype), false
	case watchqueue.Removal:
		return fmt.Sprintf("%d gc", r.ID), r.Tag == watchTag
	case watchqueue.Loss:
		return "-- LOSS --", false
	}
	return "", false
}

// autoStartIdleExit is how long a daemon that a command started waits,
// with no connection and so no watch, before it exits: long enough that
// a user's next commands find it still there, short enough that the
// daemons of stores tried once (a test suite's temporary ones) do not
// pile up.
const autoStartIdleExit = 10 * time.Minute

// ensureDaemon makes sure a daemon answers where the discovery rule looks
// (keyctl.DialDaemon), starting one if none does: the store's per-user
// daemon, at the socket where steps 2 and 4 look (storeSocket), which
// exits after autoStartIdleExit with nothing to do. A daemon that
// answers as another user (EPERM), or does not answer in time, is
// reported, not worked around: a daemon started now could not listen
// there; nor is one started for a socket named by --socket or
// $KEYCTL_GO_SOCKET.
func (a *app) ensureDaemon(ctx context.Context) error {
	o := a.discovery()
	c, _, err := keyctl.DialDaemon(ctx, o)
	switch {
	case err == nil:
		return c.Close()
	case !errors.Is(err, keyctl.ErrNoDaemon):
		return err
	}
	socket, err := o.StoreSocket()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	db, err := a.dbFile()
	if err != nil {
		return err
	}
	// Both named, so that the daemon serves the store this command
	// found, where this command looks for it, whatever its environment.
	start := exec.Command(self, "--db", db, "daemon", "--socket", socket, "--idle-exit", autoStartIdleExit.String())
	// Its own session, with no terminal and no inherited streams, so that it
	// outlives this process and the terminal it ran in.
	start.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start.Env = withoutPassphraseFD(os.Environ())
	// It cannot ask for a passphrase, having no terminal: it is asked
	// here, and handed down through a pipe.
	// While another process holds the store, it is a daemon that has
	// opened it and is about to listen, which is waited for (another
	// started now could only fail), or a command about to let go.
	deadline := time.Now().Add(daemonStartTimeout)
	need, err := a.storeNeedsPassphrase(db)
	for errors.Is(err, keystore.ErrLocked) && time.Now().Before(deadline) && ctx.Err() == nil {
		if c, derr := daemon.Dial(ctx, socket); derr == nil {
			return c.Close()
		}
		need, err = a.storeNeedsPassphrase(db)
	}
	if err != nil {
		return err
	}
	if need {
		pass, err := a.getPassphrase(db, !fileExists(db))
		if err != nil {
			return err
		}
		r, env, err := passphrasePipe(pass, 3)
		if err != nil {
			return err
		}
		defer r.Close()
		start.ExtraFiles = []*os.File{r}
		start.Env = append(start.Env, env)
	}
	if err := start.Start(); err != nil {
		return err
	}
	go start.Wait() // reaped if it exits while we still run
	return awaitDaemon(ctx, socket, db, "started a daemon")
}

// daemonStartTimeout is how long ensureDaemon waits for a daemon it
// started, or one starting, to answer: a daemon opens the store and
// listens within milliseconds, unless the store's lock is held, which it
// waits for as long as any opener (keystore.DefaultLockTimeout).
const daemonStartTimeout = keystore.DefaultLockTimeout

// awaitDaemon waits until the daemon of store db answers at socket.
func awaitDaemon(ctx context.Context, socket, db, why string) error {
	deadline := time.Now().Add(daemonStartTimeout)
	for {
		c, err := daemon.Dial(ctx, socket)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s for %s, but no daemon answers at %s: %w", why, db, socket, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

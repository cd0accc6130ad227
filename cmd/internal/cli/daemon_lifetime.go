//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// storeCheckInterval is how often a daemon looks at its store file's
// path to see whether the file it serves is still the one there: a stat
// every two seconds costs nothing, and a deleted store's daemon goes
// within that.
var storeCheckInterval = 2 * time.Second

// lifetime decides when a daemon should stop by itself, for one of two
// reasons: it has had no connection (so no watch) for idleExit (0:
// never), as an auto-started daemon should; or its store file has been
// deleted or replaced by another (its inode changed), so that it serves
// keys nobody can reach by the path any more, and a new daemon would
// serve the new file.
type lifetime struct {
	store    string        // the store file's path
	dev, ino uint64        // the file served, as it was at start
	idleExit time.Duration // 0: never idle out
	conns    func() int    // the daemon's connections now
	log      *slog.Logger
}

// newLifetime notes which file path is now; "" is a store with no file
// (one in etcd), which only idleness ends.
func newLifetime(store string, idleExit time.Duration, conns func() int, log *slog.Logger) (*lifetime, error) {
	if store == "" {
		return &lifetime{idleExit: idleExit, conns: conns, log: log}, nil
	}
	var st syscall.Stat_t
	if err := syscall.Stat(store, &st); err != nil {
		return nil, fmt.Errorf("the store %s: %w", store, err)
	}
	return &lifetime{store: store, dev: uint64(st.Dev), ino: st.Ino, idleExit: idleExit, conns: conns, log: log}, nil
}

// errIdle and errStoreGone say why a daemon stopped by itself.
var (
	errIdle      = errors.New("idle")
	errStoreGone = errors.New("store gone")
)

// run returns a context that is cancelled, with errIdle or errStoreGone
// as its cause and the reason logged, when the daemon should stop by
// itself; and the function that cancels it, to call when the daemon
// stops for another reason.
func (l *lifetime) run(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	tick := storeCheckInterval
	if l.idleExit > 0 {
		tick = min(tick, max(l.idleExit/10, 10*time.Millisecond))
	}
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		busy := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if why := l.storeChanged(); why != "" {
				l.log.Warn("keyctl-go daemon: exiting: "+why, "store", l.store)
				cancel(errStoreGone)
				return
			}
			if l.conns() > 0 {
				busy = time.Now()
			} else if l.idleExit > 0 && time.Since(busy) >= l.idleExit {
				l.log.Info("keyctl-go daemon: exiting: no connection", "idle_exit", l.idleExit, "store", l.store)
				cancel(errIdle)
				return
			}
		}
	}()
	return ctx, func() { cancel(nil) }
}

// storeChanged says what became of the store file, or "" if it is still
// the one served.
func (l *lifetime) storeChanged() string {
	if l.store == "" {
		return ""
	}
	var st syscall.Stat_t
	err := syscall.Stat(l.store, &st)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "the store file was deleted"
	case err != nil:
		return "" // cannot tell (a transient error): keep serving
	case uint64(st.Dev) != l.dev || st.Ino != l.ino:
		return "the store file was replaced by another"
	}
	return ""
}

//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/kcm"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// daemonCommand is keyctl-go's own command, not keyctl's: it is dispatched
// before keyctl's table so that the Format listing stays keyctl's.
const daemonCommand = "daemon"

// daemonFormat is the daemon command's usage line.
const daemonFormat = "Format: keyctl-go daemon [--system] [--socket <path>] [--max-conns-per-uid <n>] [--quota-keys <n>] [--quota-bytes <n>] [--kcm | --kcm-socket <path>] [--kcm-max-caches <n>] [--kcm-max-cache-bytes <n>] [--secret-service] [--idle-exit <duration>] [--linearizable] [--help]\n" +
	"        keyctl-go daemon status [--system | --socket <path>]"

// runDaemon is `keyctl-go daemon [--system] [--socket PATH] [...]` (see
// daemonFormat), or `keyctl-go daemon status` (runDaemonStatus): serve
// the store on a Unix socket until
// SIGTERM or SIGINT, then finish calls in flight and close the store
// cleanly. While it runs it owns the store file, and other invocations go
// through it.
//
// Per-user (the default), the store is chosen as for every command (--db,
// $KEYCTL_GO_DB, XDG), and the socket defaults to the store's socket
// (app.storeSocket), where every other invocation naming the store looks
// for it. The daemon is the user's alone (daemon.Options.Private): its
// socket is 0600, in a directory that must be the user's alone (made
// 0700 if missing) with nothing on the way to it that anyone but root or
// the user could swap (daemon.PrepareUserSocketDir); --socket is held to
// the same.
//
// With --system it is the one daemon for every user of the machine: the
// store defaults to daemon.SystemStore and the socket to
// daemon.SystemSocket, in a directory every user may enter, and each
// client is known by the uid the kernel gives (see daemon.PrepareSystemDirs).
// --db and --socket name others, for tests and packagers.
//
// --max-conns-per-uid bounds the connections each uid may hold at once,
// to the daemon's socket and the KCM socket together
// (daemon.DefaultMaxConnsPerUID); root and the daemon's own uid are not
// bounded.
//
// Started by systemd for a .socket unit (LISTEN_FDS), it serves the
// socket it is given, and --socket is not used.
//
// --kcm-socket PATH also serves Kerberos caches on PATH for MIT's KCM
// cache type (package kcm), from the same store, to the same users as
// the daemon's socket; with --system, --kcm alone means kcm.DefaultSocket,
// where MIT looks by default. A socket systemd passes under the name
// kcm.ActivationName is served the same way. --kcm-max-caches and
// --kcm-max-cache-bytes are sssd-kcm's max_uid_ccaches and
// max_ccache_size (which sssd counts in MiB): how many caches each uid
// may have, and how many bytes of credentials each cache may hold.
//
// --quota-keys and --quota-bytes are how many keys, and how many bytes of
// them, each uid but root may own (the kernel's maxkeys and maxbytes,
// 200 and 20,000 by default); root keeps its larger limits unless these
// are larger still.
//
// --secret-service also serves the user's secrets as the freedesktop
// Secret Service on the session bus (daemon_secretservice.go).
//
// --idle-exit DURATION makes it exit after that long with no connection
// (so no watch): daemons that commands start (ensureDaemon) pass
// autoStartIdleExit; explicit and socket-activated ones default to never.
// Any daemon exits when its store file is deleted or replaced (see
// lifetime). --help prints daemonHelp.
//
// It logs (log/slog, text lines on stderr) its start and stop, the
// connections it refuses or cuts, and accept errors.
func (a *app) runDaemon(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == daemonStatusCommand {
		return a.runDaemonStatus(ctx, args[1:])
	}
	var opts daemonOptions
	for len(args) > 0 {
		switch {
		case args[0] == "--system":
			opts.system = true
			args = args[1:]
		case args[0] == "--socket" && len(args) >= 2:
			opts.socket = args[1]
			args = args[2:]
		case args[0] == "--kcm":
			opts.kcmDefault = true
			args = args[1:]
		case args[0] == "--kcm-socket" && len(args) >= 2:
			opts.kcmSocket = args[1]
			args = args[2:]
		case args[0] == "--kcm-max-caches" && len(args) >= 2:
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 1 {
				fmt.Fprintf(a.stderr, "keyctl-go daemon: --kcm-max-caches %q: want a number of caches, 1 or more\n", args[1])
				return 2
			}
			opts.kcmMaxCaches = n
			args = args[2:]
		case args[0] == "--kcm-max-cache-bytes" && len(args) >= 2:
			n, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil || n < 1 {
				fmt.Fprintf(a.stderr, "keyctl-go daemon: --kcm-max-cache-bytes %q: want a number of bytes, 1 or more\n", args[1])
				return 2
			}
			opts.kcmMaxCacheBytes = n
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
		case args[0] == "--linearizable":
			a.linearizable = true
			args = args[1:]
		case args[0] == "--help" || args[0] == "-h":
			fmt.Fprint(a.stdout, daemonHelp)
			return 0
		case args[0] == "--idle-exit" && len(args) >= 2:
			d, err := time.ParseDuration(args[1])
			if err != nil || d < 0 {
				fmt.Fprintf(a.stderr, "keyctl-go daemon: --idle-exit %q: want a duration such as 10m, or 0 for never\n", args[1])
				return 2
			}
			opts.idleExit = d
			args = args[2:]
		case args[0] == "--max-conns-per-uid" && len(args) >= 2:
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 1 {
				fmt.Fprintf(a.stderr, "keyctl-go daemon: --max-conns-per-uid %q: want a number of connections, 1 or more\n", args[1])
				return 2
			}
			opts.maxConnsPerUID = n
			args = args[2:]
		default:
			fmt.Fprintln(a.stderr, daemonFormat)
			return 2
		}
	}
	if opts.system && a.secretService {
		fmt.Fprintln(a.stderr, "keyctl-go daemon: --secret-service serves one user's session bus, not --system")
		return 2
	}
	if opts.socket == "" {
		opts.socket = a.socketPath // keyctl-go --socket PATH daemon: where clients were told to look
	}
	if opts.kcmDefault && opts.kcmSocket == "" {
		if !opts.system {
			fmt.Fprintln(a.stderr, "keyctl-go daemon: --kcm names the system's KCM socket: use it with --system, or give --kcm-socket <path>")
			return 2
		}
		opts.kcmSocket = kcm.DefaultSocket
	}
	if err := a.serve(ctx, opts); err != nil {
		fmt.Fprintf(a.stderr, "keyctl-go daemon: %v\n", err)
		return 1
	}
	return 0
}

// daemonOptions are the daemon command's arguments.
type daemonOptions struct {
	system         bool
	socket         string // "": the mode's default
	maxConnsPerUID int    // 0: daemon.DefaultMaxConnsPerUID
	kcmDefault     bool   // --kcm: the system's KCM socket
	kcmSocket      string // "": no KCM server, unless systemd passes its socket
	// kcmMaxCaches and kcmMaxCacheBytes are the KCM server's limits
	// (kcm.Options); 0: its defaults.
	kcmMaxCaches     int
	kcmMaxCacheBytes int64
	idleExit         time.Duration // exit after this long with no connection; 0: never
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

// daemonLogger is the daemon's log: text lines on stderr, without the
// time when systemd's journal takes them ($JOURNAL_STREAM is set), since
// it stamps every line itself.
func (a *app) daemonLogger() *slog.Logger {
	var h slog.HandlerOptions
	if a.getenv("JOURNAL_STREAM") != "" {
		h.ReplaceAttr = func(groups []string, attr slog.Attr) slog.Attr {
			if len(groups) == 0 && attr.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return attr
		}
	}
	return slog.New(slog.NewTextHandler(a.stderr, &h))
}

// daemonStore is the store the daemon serves: as every command's, or in
// system mode the system's unless named.
func (a *app) daemonStore(system bool) (string, error) {
	if system && a.dbPath == "" && a.getenv(envDB) == "" {
		return daemon.SystemStore, nil
	}
	return a.dbFile()
}

func (a *app) serve(ctx context.Context, o daemonOptions) error {
	// The KCM socket, if systemd passed one, is taken out first: the
	// daemon's own activation takes exactly one socket.
	kcmLn, err := kcm.ActivationListener()
	if err != nil {
		return err
	}
	// A socket from the service manager comes first: it chose where
	// clients connect, and may have started this daemon because one did.
	ln, err := daemon.ActivationListener()
	if err != nil {
		if kcmLn != nil {
			kcmLn.Close()
		}
		return err
	}
	socket := o.socket
	if ln != nil {
		socket = ""
	}
	fail := func(err error) error {
		if ln != nil {
			ln.Close()
		}
		if kcmLn != nil {
			kcmLn.Close()
		}
		return err
	}
	path, err := a.daemonStore(o.system)
	if err != nil {
		return fail(err)
	}
	switch {
	case o.system:
		if ln == nil && socket == "" {
			socket = daemon.SystemSocket
		}
		err = daemon.PrepareSystemDirs(socket, path)
	case ln == nil:
		if socket == "" {
			socket, err = a.storeSocket()
		}
		if err == nil {
			err = daemon.PrepareUserSocketDir(socket)
		}
	}
	if err != nil {
		return fail(err)
	}
	if kcmLn == nil && o.kcmSocket != "" {
		if kcmLn, err = listenKCM(o.kcmSocket, o.system); err != nil {
			return fail(err)
		}
	}
	store, err := a.openStoreToServe(path)
	if err != nil {
		return fail(err)
	}
	log := a.daemonLogger()
	opts := daemon.Options{Private: !o.system, MaxConnsPerUID: o.maxConnsPerUID, Logger: log}
	var srv *daemon.Server
	if ln != nil {
		srv = daemon.NewServer(ln, store, opts)
	} else if srv, err = daemon.Listen(socket, store, opts); err != nil {
		if kcmLn != nil {
			kcmLn.Close()
		}
		store.Close()
		return err
	}
	// KCM is admitted by the daemon's gate: Private alike, and a uid's
	// connections to both sockets count against one --max-conns-per-uid.
	kcmSrv := serveKCM(store, kcmLn, kcm.Options{Gate: srv.Gate(), Logger: log, MaxCaches: o.kcmMaxCaches, MaxCacheBytes: o.kcmMaxCacheBytes})
	stopSecretService := func() error { return nil }
	if a.secretService {
		// A daemon serving a session bus ends with it, as the bus's own
		// services do.
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(ctx)
		defer stop()
		if stopSecretService, err = a.startSecretService(ctx, store, stop); err != nil {
			if kcmSrv != nil {
				kcmSrv.Close()
			}
			srv.Close()
			store.Close()
			return err
		}
	}
	mode := "per-user"
	if o.system {
		mode = "system"
	}
	log.Info("keyctl-go daemon: started", "store", path, "socket", srv.Path(), "mode", mode, "pid", os.Getpid())
	// Until SIGTERM or SIGINT; then the calls in flight finish, and the
	// store is closed so that everything acknowledged is on disk and the
	// file is let go.
	// It stops by itself when idle (--idle-exit) or when its store file
	// is gone (see lifetime).
	lifePath := path
	if eo, _ := a.etcdOptions(); eo != nil {
		lifePath = "" // the store is in etcd: no file to outlive
	}
	life, err := newLifetime(lifePath, o.idleExit, srv.Connections, log)
	if err != nil {
		srv.Close()
		if kcmLn != nil {
			kcmLn.Close()
		}
		store.Close()
		return err
	}
	runCtx, stopLife := life.run(ctx)
	err = srv.Run(runCtx)
	stopLife()
	if kcmSrv != nil {
		err = errors.Join(err, kcmSrv.Close())
	}
	err = errors.Join(err, stopSecretService(), store.Close())
	if err == nil {
		log.Info("keyctl-go daemon: store closed", "store", path)
	}
	return err
}

// listenKCM binds the KCM socket at path, its directory checked as the
// daemon's own is: the system's (made if missing, never loosened) or the
// user's alone, and the socket 0666 or 0600 to match.
func listenKCM(path string, system bool) (*net.UnixListener, error) {
	var err error
	if system {
		err = daemon.PrepareSystemDirs(path, "")
	} else {
		err = daemon.PrepareUserSocketDir(path)
	}
	if err != nil {
		return nil, err
	}
	return kcm.Listen(path, !system)
}

// serveKCM serves the store's Kerberos caches on ln, if there is one.
func serveKCM(store *keyring.Store, ln *net.UnixListener, opts kcm.Options) *kcm.Server {
	if ln == nil {
		return nil
	}
	srv := kcm.NewServer(store, opts)
	go srv.Serve(ln)
	opts.Logger.Info("keyctl-go daemon: serving KCM", "socket", ln.Addr().String())
	return srv
}

//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyctl"
)

// daemonStatusCommand is `keyctl-go daemon status`, dispatched by runDaemon.
const daemonStatusCommand = "status"

// daemonStatusFormat is the status subcommand's usage line.
const daemonStatusFormat = "Format: keyctl-go daemon status [--system | --socket <path> | --help]"

// runDaemonStatus is `keyctl-go daemon status [--system | --socket PATH]`:
// ask a running daemon about itself and print its socket, store, mode and
// uptime, then a row per uid of the connections and watches it holds.
// The daemon tells root every uid's row and anyone else their own alone
// (see daemon.Status), which always counts the connection asking.
//
// The daemon asked is the one at --socket, the system daemon's with
// --system, else the one every other command would use: the discovery
// rule's steps 1 to 4 (keyctl.DialDaemon), so the system daemon if it
// answers and no daemon is named. None answering there is exit 1, with
// why.
func (a *app) runDaemonStatus(ctx context.Context, args []string) int {
	var c *daemon.Client
	var socket string
	var err error
	switch {
	case len(args) == 0:
		var route keyctl.Route
		c, route, err = keyctl.DialDaemon(ctx, a.discovery())
		socket = route.Path
		if errors.Is(err, keyctl.ErrNoDaemon) {
			fmt.Fprintln(a.stderr, "keyctl-go daemon status: no daemon answers where commands look (keyctl-go --help says where)")
			return 1
		}
	case len(args) == 1 && (args[0] == "--help" || args[0] == "-h"):
		fmt.Fprint(a.stdout, daemonHelp)
		return 0
	case len(args) == 1 && args[0] == "--system":
		socket = daemon.SystemSocket
		c, err = daemon.Dial(ctx, socket)
	case len(args) == 2 && args[0] == "--socket":
		socket = args[1]
		c, err = daemon.Dial(ctx, socket)
	default:
		fmt.Fprintln(a.stderr, daemonStatusFormat)
		return 2
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "keyctl-go daemon status: %v\n", err) // it names the socket
		return 1
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if errors.Is(err, unix.EOPNOTSUPP) {
		fmt.Fprintf(a.stderr, "keyctl-go daemon status: the daemon at %s is too old to tell its status\n", socket)
		return 1
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "keyctl-go daemon status: %v\n", err)
		return 1
	}
	a.printDaemonStatus(st)
	return 0
}

// printDaemonStatus prints st as `keyctl-go daemon status` does:
//
//	socket:  /run/keyctl-go/socket
//	store:   /var/lib/keyctl-go/keys.db
//	mode:    system
//	uptime:  2h3m4s
//	uid          connections  watches
//	1000                   2        3
func (a *app) printDaemonStatus(st daemon.Status) {
	mode := "system"
	if st.Private {
		mode = "per-user"
	}
	uptime := st.Uptime.Round(time.Second)
	if st.Uptime < time.Second {
		uptime = st.Uptime.Round(time.Millisecond)
	}
	fmt.Fprintf(a.stdout, "socket:  %s\nstore:   %s\nmode:    %s\nuptime:  %v\n", st.Socket, st.Store, mode, uptime)
	fmt.Fprintf(a.stdout, "%-10s %14s %8s\n", "uid", "connections", "watches")
	for _, u := range st.Users {
		fmt.Fprintf(a.stdout, "%-10d %14d %8d\n", u.UID, u.Conns, u.Watches)
	}
}

//go:build linux

package cli

// helpText is `keyctl-go --help`: keyctl-go's own usage. Without
// arguments keyctl-go prints keyctl's Format listing instead, byte for
// byte, as scripts written for keyctl expect; `keyctl-go` alone, or any
// wrong argument, still does.
const helpText = `Usage: keyctl-go [--db <path>] [--socket <path>] [--passphrase] [--etcd <endpoints>] [--etcd-prefix <name>] [--etcd-cacert <file>] [--etcd-cert <file> --etcd-key <file>] <command> [<arg>...]
       keyctl-go daemon [<option>...]      (keyctl-go daemon --help)
       keyctl-go daemon status [--system | --socket <path>]
       keyctl-go --help

keyctl-go is keyutils' keyctl acting on a keyctl-go store instead of the
kernel: the same commands, arguments, output and exit codes. Run it without
arguments for keyctl's list of commands. Its own: krb5 (Kerberos caches),
fsck (check a store), daemon (serve a store), completion bash (a bash
completion script: source <(keyctl-go completion bash)).

Where the keys are. Every command, and every Go program using package
keyctl, takes the first of these that applies:
  1. --socket <path>, else $KEYCTL_GO_SOCKET: the daemon there, and no other.
  2. --db <path>, else $KEYCTL_GO_DB: that store's daemon, at
     $XDG_RUNTIME_DIR/keyctl-go/store-<hash>.sock, else the file itself.
  3. The system daemon at /run/keyctl-go/socket, if it answers: one key
     space for every user of the machine, as the kernel has.
  4. Your own daemon, at $XDG_RUNTIME_DIR/keyctl-go/socket.
  5. Your own store, $XDG_DATA_HOME/keyctl-go/keys.db
     (XDG_DATA_HOME defaults to ~/.local/share), opened directly.
Without $XDG_RUNTIME_DIR the sockets of steps 2 and 4 are in
/tmp/keyctl-go-<uid>/. A daemon is believed only if it runs as you or root
(at the system socket, also as the owner of /run/keyctl-go). One that
answers as anybody else, or does not answer, is an error, never skipped.

watch, watch_session, krb5 watch and session (on a passphrase store) need a
daemon: finding none at steps 1 to 4, they start your own, where step 2 or
4 looks, and it exits after 10 minutes with no connection.

Options:
  --db <path>       the store file (step 2)
  --socket <path>   the daemon to use (step 1)
  --passphrase      a store created now is protected by a passphrase
  --etcd <endpoints>        keep the store in etcd (host:port,...), shared
                            with every host whose daemon names the same
                            cluster and prefix; the file of step 2 or 5 is
                            not used, but its key file (<path>.key) wraps
                            the data key: give every host the same one
  --etcd-prefix <name>      the store's name in the cluster (keyctl-go)
  --etcd-cacert <file>      CA certificates to verify the cluster with (TLS)
  --etcd-cert <file> --etcd-key <file>
                            this host's client certificate and key
  --help            this text

Environment:
  KEYCTL_GO_SOCKET            a daemon to use (step 1)
  KEYCTL_GO_DB                a store file (step 2)
  KEYCTL_GO_SESSION           the serial of the session keyring @s names,
                              unless new_session gave one to a nearer
                              ancestor than KEYCTL_GO_SESSION_OWNER
                              (<pid>:<start time>; set by keyctl-go session)
  KEYCTL_GO_PASSPHRASE_FILE   a file holding the store's passphrase
  KEYCTL_GO_PASSPHRASE_FD     a descriptor to read the passphrase from
  KEYCTL_GO_ETCD, KEYCTL_GO_ETCD_PREFIX, KEYCTL_GO_ETCD_CACERT,
  KEYCTL_GO_ETCD_CERT, KEYCTL_GO_ETCD_KEY
                              the --etcd options, when not given
  KEYCTL_GO_ETCD_USER, KEYCTL_GO_ETCD_PASSWORD
                              etcd's own auth (no option: argv is public)
  XDG_RUNTIME_DIR, XDG_DATA_HOME, HOME   where steps 2, 4 and 5 look;
                              new_session's records are in
                              $XDG_RUNTIME_DIR/keyctl-go/parents

Exit codes are keyctl's: 0 success, 1 a failed operation, 2 a usage error.
`

// daemonHelp is `keyctl-go daemon --help`: every option and environment
// variable the daemon reads.
const daemonHelp = `Usage: keyctl-go [--db <path>] [--passphrase] [--etcd <endpoints> [--etcd-<option> <value>]...] daemon [<option>...]
       keyctl-go [--db <path>] [--socket <path>] daemon status [--system | --socket <path>]

Serve a store on a Unix socket until SIGTERM or SIGINT. While it runs it owns
the store file, and every other keyctl-go command, and every Go program using
package keyctl, reaches the store through it (keyctl-go --help says in which
order clients look).

Per user (the default), it serves the store named as for every command
(--db, $KEYCTL_GO_DB, else $XDG_DATA_HOME/keyctl-go/keys.db) to you and root
alone, on the socket where clients look for that store:
$XDG_RUNTIME_DIR/keyctl-go/socket for your default store,
$XDG_RUNTIME_DIR/keyctl-go/store-<hash>.sock for one named, in
/tmp/keyctl-go-<uid>/ without $XDG_RUNTIME_DIR. The directory must be yours
alone (made 0700 if missing); the socket is 0600.

Options:
  --system                  serve every user of the machine: the store
                            /var/lib/keyctl-go/keys.db (unless --db names
                            another) on /run/keyctl-go/socket, where clients
                            look at step 3, each user known by the uid the
                            kernel gives
  --socket <path>           listen here instead
  --max-conns-per-uid <n>   connections each uid may hold at once (default
                            256); root and the daemon's own uid are not bounded
  --kcm                     with --system: also serve Kerberos caches (MIT's
                            KCM) on /run/.heim_org.h5l.kcm-socket
  --kcm-socket <path>       also serve Kerberos caches on <path>
  --kcm-max-caches <n>      Kerberos caches each uid may have (default 64;
                            sssd-kcm's max_uid_ccaches)
  --kcm-max-cache-bytes <n> bytes of credentials a cache may hold (default
                            64 MiB; sssd-kcm's max_ccache_size)
  --quota-keys <n>          keys each uid but root may own (the kernel's
                            maxkeys; default 200)
  --quota-bytes <n>         bytes of keys each uid but root may own (the
                            kernel's maxbytes; default 20000)
  --secret-service          also serve your secrets as the freedesktop Secret
                            Service (org.freedesktop.secrets) on the session
                            bus, $DBUS_SESSION_BUS_ADDRESS; not with --system.
                            The daemon ends when the bus does.
  --idle-exit <duration>    exit after this long with no connection (and so
                            no watch), such as 10m; 0, the default, never.
                            Daemons that commands start pass 10m.
  --linearizable            with --etcd: every read first waits until this
                            host's copy holds what the cluster had committed
                            (a round trip to etcd per read); without it,
                            reads answer from the copy, a few milliseconds
                            behind other hosts' writes
  --help                    this text

It also exits, logging why, when its store file is deleted or replaced by
another (its inode changed).

daemon status asks a running daemon about itself: its socket and store,
whether it is per-user or the system's, how long it has served, and a row per
uid of the connections it holds (its KCM socket's too) and their watches.
Root is told every uid's row, anyone else their own alone. Without an option
it asks the daemon every command would use (steps 1 to 4 of keyctl-go --help:
the system daemon if it answers); --system asks the system daemon, and
--socket <path> the one at <path>. No daemon answering is exit 1.

With --etcd (keyctl-go --help), the store is in etcd, shared by every host
whose daemon names the same cluster and prefix: local clients find this
daemon as ever, and hear every host's changes. Reads answer from this
host's copy; a write is acknowledged once etcd has committed it. Without
etcd, writes fail (Input/output error) and reads go on from the copy.
Thread, process and session keyrings stay on their host. A uid must mean
the same user on every host. See docs/etcd.md.

Environment:
  KEYCTL_GO_DB                the store, when --db is not given
  XDG_DATA_HOME, HOME         where the default store is
  XDG_RUNTIME_DIR             where the per-user socket is
  KEYCTL_GO_PASSPHRASE_FILE   a file holding the store's passphrase
  KEYCTL_GO_PASSPHRASE_FD     a descriptor to read the passphrase from
  KEYCTL_GO_ETCD*             the --etcd options (keyctl-go --help)
  LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES
                              socket activation (systemd): serve the socket
                              passed in fd 3 instead of --socket, and one
                              named kcm as the KCM socket
  JOURNAL_STREAM              set by systemd: log lines carry no time
  DBUS_SESSION_BUS_ADDRESS    the session bus, for --secret-service
KEYCTL_GO_SOCKET is for clients; the daemon does not read it.

Logs (text lines on stderr) say when it starts and stops, and why, the
connections it refuses or cuts, and accept errors.
`
